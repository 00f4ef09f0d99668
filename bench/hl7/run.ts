/**
 * HL7 v2 ingest benchmark: `node bench/hl7/run.ts` (npm run bench:hl7).
 *
 * Starts CareBridge as its own process (embedded PostgreSQL in a temporary DATA_DIR) and drives
 * its MLLP listener from this process with synthetic ADT^A03 messages (3 DG1, 1 AL1, 5 OBX;
 * bench/hl7/messages.ts), closed loop: each connection sends a message, waits for the ACK (sent
 * after the message is applied to the FHIR store and committed), and sends the next. Measures
 * messages/s and ACK latency at each connection count, then the same against the baseline
 * (bench/hl7/baseline-listener.ts: commit raw bytes, then ACK) on the same PostgreSQL, and
 * optionally a soak: sustained load for BENCH_HL7_SOAK_SECONDS with messages/s per minute, the
 * server's RSS and PostgreSQL's WAL a message.
 * Markdown report on stdout; raw numbers in bench/results/hl7-<time>.json. See bench/hl7/RESULTS.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { cpuProfileDir, newestProfile, profileMarkdown } from '../lib/cpu-profile.ts';
import { runClosedLoop } from '../lib/load.ts';
import type { LoadResult } from '../lib/load.ts';
import { machineInfo, postgresVersion } from '../lib/machine.ts';
import { cpuPerOperation, sampleCpu } from '../lib/process-cpu.ts';
import type { CpuSample } from '../lib/process-cpu.ts';
import { readRssKiB, RssSampler } from '../lib/rss.ts';
import { startServerProcess } from '../lib/server-process.ts';
import type { ServerProcess } from '../lib/server-process.ts';
import { startBaselineListener } from './baseline-listener.ts';
import { AdtA03Generator } from './messages.ts';
import { MllpConnection } from './mllp-connection.ts';
import { seedPatients } from './seed.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const log = (message: string) => process.stderr.write(`[bench:hl7] ${message}\n`);
const numberEnv = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
};
const options = {
  seconds: numberEnv('BENCH_SECONDS', 20),
  warmupSeconds: numberEnv('BENCH_WARMUP_SECONDS', 5),
  connections: (process.env.BENCH_HL7_CONNECTIONS ?? '1,8').split(',').map(Number),
  patients: numberEnv('BENCH_HL7_PATIENTS', 2000),
  seedConnections: 8,
  soakSeconds: numberEnv('BENCH_HL7_SOAK_SECONDS', 0),
  soakConnections: numberEnv('BENCH_HL7_SOAK_CONNECTIONS', 1),
  baseline: process.env.BENCH_BASELINE !== '0',
  dbPoolSize: numberEnv('DB_POOL_SIZE', 20),
  seed: numberEnv('BENCH_SEED', 1),
  // BENCH_CPU_PROF=1 profiles the server (node --cpu-prof) into bench/results/profiles, or the path given.
  cpuProfDir: cpuProfileDir(process.env, path.join(repoRoot, 'bench', 'results')),
};

let server: ServerProcess | undefined;
const stopAll = async () => {
  await server?.stop().catch(() => undefined);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll().finally(() => process.exit(130)));

/** A run's load figures and, when `cpu` samples the server, the CPU each message cost in the window. */
type Measured = LoadResult & { cpuPerMessage?: CpuSample | undefined };

async function measure(port: number, connections: number, generator: AdtA03Generator, seconds: number, warmup: number, cpu?: () => CpuSample | undefined, onAck?: () => void): Promise<Measured> {
  const conns = await Promise.all(Array.from({ length: connections }, () => MllpConnection.open(port)));
  const samples: { start?: CpuSample | undefined; end?: CpuSample | undefined } = {};
  try {
    const result = await runClosedLoop({
      concurrency: connections,
      warmupMs: warmup * 1000,
      durationMs: seconds * 1000,
      op: async (c) => {
        await conns[c]!.send(generator.next());
        onAck?.();
      },
      onWindow: cpu && ((edge) => (samples[edge] = cpu())),
    });
    return { ...result, cpuPerMessage: cpuPerOperation(samples.start, samples.end, result.ops) };
  } finally {
    for (const c of conns) c.close();
  }
}

interface SoakResult {
  seconds: number;
  connections: number;
  messages: number;
  throughput: number;
  /** RSS (MiB) per minute: mean of the samples in that minute. */
  rssPerMinuteMiB: number[];
  /** Messages ACKed per second in each minute: whether the rate holds as the tables grow. */
  throughputPerMinute: number[];
  /** Messages/s over the last 5 minutes (the sustained rate, tables at their largest). */
  lastFiveMinutesThroughput: number | undefined;
  /** Mean RSS of the last 5 minutes over minutes 5–10 (after warm-up), minus 1. */
  growth: number | undefined;
  p99Ms: number;
  cpuPerMessage: CpuSample | undefined;
  /** What PostgreSQL wrote a message (pg_stat_wal) and the checkpoints in the soak (pg_stat_checkpointer). */
  wal: WalPerMessage | undefined;
}

interface WalCounters {
  records: number;
  fpi: number;
  bytes: number;
  checkpoints: number;
}

interface WalPerMessage {
  records: number;
  fullPageImages: number;
  kib: number;
  checkpoints: number;
}

/** PostgreSQL's WAL counters (cumulative since the server started); undefined where the views differ (before 17). */
async function walCounters(admin: pg.Pool): Promise<WalCounters | undefined> {
  const { rows } = await admin
    .query<{ records: string; fpi: string; bytes: string; checkpoints: string }>(
      `SELECT w.wal_records::text AS records, w.wal_fpi::text AS fpi, w.wal_bytes::text AS bytes, (c.num_timed + c.num_requested)::text AS checkpoints
         FROM pg_stat_wal w, pg_stat_checkpointer c`,
    )
    .catch(() => ({ rows: [] }));
  const r = rows[0];
  return r && { records: Number(r.records), fpi: Number(r.fpi), bytes: Number(r.bytes), checkpoints: Number(r.checkpoints) };
}

async function soak(srv: ServerProcess, admin: pg.Pool, generator: AdtA03Generator, cpu: () => CpuSample | undefined): Promise<SoakResult> {
  const walBefore = await walCounters(admin);
  const samples: Array<{ t: number; kib: number }> = [];
  let acked = 0;
  const ackedAt: Array<{ t: number; acked: number }> = [{ t: 0, acked: 0 }];
  const started = Date.now();
  const timer = setInterval(() => {
    const t = (Date.now() - started) / 1000;
    ackedAt.push({ t, acked });
    const kib = readRssKiB(srv.pid);
    if (kib) samples.push({ t, kib });
  }, 5000);
  let result: Measured;
  try {
    result = await measure(srv.mllpPort, options.soakConnections, generator, options.soakSeconds, 0, cpu, () => acked++);
  } finally {
    clearInterval(timer);
  }
  ackedAt.push({ t: (Date.now() - started) / 1000, acked });
  const walAfter = await walCounters(admin);
  const wal = walBefore && walAfter && result.ops > 0
    ? {
        records: (walAfter.records - walBefore.records) / result.ops,
        fullPageImages: (walAfter.fpi - walBefore.fpi) / result.ops,
        kib: (walAfter.bytes - walBefore.bytes) / 1024 / result.ops,
        checkpoints: walAfter.checkpoints - walBefore.checkpoints,
      }
    : undefined;
  /** Messages/s between the samples nearest to `from` and `to` seconds. */
  const rate = (from: number, to: number) => {
    const nearest = (t: number) => ackedAt.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best));
    const a = nearest(from);
    const b = nearest(to);
    return b.t > a.t ? (b.acked - a.acked) / (b.t - a.t) : NaN;
  };
  const minutes = Math.ceil(options.soakSeconds / 60);
  const throughputPerMinute = Array.from({ length: minutes }, (_, m) => Math.round(rate(m * 60, Math.min((m + 1) * 60, options.soakSeconds)) * 10) / 10);
  const rssPerMinuteMiB = Array.from({ length: minutes }, (_, m) => {
    const inMinute = samples.filter((s) => s.t >= m * 60 && s.t < (m + 1) * 60);
    return inMinute.length ? Math.round((inMinute.reduce((a, s) => a + s.kib, 0) / inMinute.length / 1024) * 10) / 10 : NaN;
  });
  const mean = (from: number, to: number) => {
    const xs = samples.filter((s) => s.t >= from && s.t < to).map((s) => s.kib);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  };
  const early = mean(300, 600);
  const late = mean(options.soakSeconds - 300, options.soakSeconds + 1);
  return {
    seconds: result.seconds,
    connections: options.soakConnections,
    messages: result.ops,
    throughput: result.throughput,
    rssPerMinuteMiB,
    throughputPerMinute,
    lastFiveMinutesThroughput: options.soakSeconds >= 600 ? rate(options.soakSeconds - 300, options.soakSeconds) : undefined,
    growth: early && late && options.soakSeconds >= 900 ? late / early - 1 : undefined,
    p99Ms: result.latencyMs.p99,
    cpuPerMessage: result.cpuPerMessage,
    wal,
  };
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function main(): Promise<void> {
  const startedAt = Date.now();
  const machine = machineInfo(repoRoot);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; load average ${machine.loadAverage.join(' ')}`);
  server = await startServerProcess({ repoRoot, dbPoolSize: options.dbPoolSize, cpuProfDir: options.cpuProfDir, env: { HL7_RECOVERY_INTERVAL_MS: '5000' } });
  const rss = new RssSampler(server.pid);
  const { pid: serverPid, postgresPid } = server;
  const cpu = () => sampleCpu(serverPid, postgresPid);
  const admin = new pg.Pool({ connectionString: server.postgresUrl, max: 2 });
  const runId = `B${Date.now().toString(36)}`;
  const generator = new AdtA03Generator({ seed: options.seed, patients: options.patients, runId });
  const rows: Array<{ target: string; result: Measured; rssMiB?: number }> = [];
  let seeded: { patients: number; seconds: number } | undefined;
  try {
    // Discharges are for patients the hospital admitted earlier: seed one message per patient
    // (untimed, and timed separately as "first contact") so the measured runs update known
    // Patients and open new stays, as in steady operation.
    log(`seeding ${options.patients} patients (one message each, ${options.seedConnections} connections)`);
    const seedStart = performance.now();
    await seedPatients(server.mllpPort, generator, options.patients, options.seedConnections);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    log(`  ${options.patients} new patients in ${fmt(seedSeconds)} s (${fmt(options.patients / seedSeconds)} msg/s)`);
    await admin.query('ANALYZE').catch(() => undefined);
    seeded = { patients: options.patients, seconds: seedSeconds };
    for (const n of options.connections) {
      log(`CareBridge: ${n} connection(s), ${options.warmupSeconds} s warm-up + ${options.seconds} s`);
      rss.takeWindowMaxMiB();
      const result = await measure(server.mllpPort, n, generator, options.seconds, options.warmupSeconds, cpu);
      rows.push({ target: 'carebridge', result, rssMiB: rss.takeWindowMaxMiB() });
      log(`  ${fmt(result.throughput)} msg/s, p50 ${fmt(result.latencyMs.p50)} ms, p99 ${fmt(result.latencyMs.p99)} ms, errors ${result.errors}`);
    }
    if (options.baseline) {
      await admin.query('DROP DATABASE IF EXISTS carebridge_bench_hl7_baseline');
      await admin.query('CREATE DATABASE carebridge_bench_hl7_baseline');
      const url = server.postgresUrl.replace(/\/postgres\?/, '/carebridge_bench_hl7_baseline?');
      const baseline = await startBaselineListener(url, options.dbPoolSize);
      try {
        for (const n of options.connections) {
          log(`baseline (commit raw bytes, ACK): ${n} connection(s)`);
          const result = await measure(baseline.port, n, generator, options.seconds, options.warmupSeconds);
          rows.push({ target: 'baseline', result });
          log(`  ${fmt(result.throughput)} msg/s, p99 ${fmt(result.latencyMs.p99)} ms`);
        }
      } finally {
        await baseline.close();
      }
    }
    const check = await admin.query<{ status: string; n: string }>(`SELECT status, count(*)::text AS n FROM hl7_message GROUP BY status`).catch(() => undefined);
    const soakResult = options.soakSeconds > 0 ? (log(`soak: ${options.soakSeconds} s at ${options.soakConnections} connection(s)`), await soak(server, admin, generator, cpu)) : undefined;
    const pgVersion = await postgresVersion(admin).catch(() => undefined);
    const report = renderReport({ machine: { ...machine, postgres: pgVersion }, rows, soak: soakResult, statuses: check?.rows ?? [], seeded });
    process.stdout.write(report);
    const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
    await fs.mkdir(path.join(repoRoot, 'bench', 'results'), { recursive: true });
    await fs.writeFile(path.join(repoRoot, 'bench', 'results', `hl7-${stamp}.json`), JSON.stringify({ options, machine, seeded, rows, soak: soakResult }, null, 2));
  } finally {
    rss.stop();
    await admin.end().catch(() => undefined);
    await stopAll(); // the server writes its CPU profile as it exits
  }
  const profile = options.cpuProfDir && (await newestProfile(options.cpuProfDir, startedAt));
  if (profile) process.stdout.write(`\n${profileMarkdown(profile)}\n`);
}

/** "server · PostgreSQL · load generator" CPU milliseconds per message. */
const cpuCell = (c: CpuSample | undefined) => (c ? `${fmt(c.serverMs, 2)} · ${fmt(c.postgresMs, 2)} · ${fmt(c.loadGeneratorMs, 2)}` : '');

function renderReport(input: { machine: ReturnType<typeof machineInfo>; rows: Array<{ target: string; result: Measured; rssMiB?: number }>; soak: SoakResult | undefined; statuses: Array<{ status: string; n: string }>; seeded: { patients: number; seconds: number } | undefined }): string {
  const m = input.machine;
  const lines = [
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres ?? '?'}; load average at start ${m.loadAverage.join(' ')}; code ${m.source}`,
    '',
    '| target | connections | messages/s | p50 ms | p95 ms | p99 ms | max ms | errors | server RSS max MiB | vs baseline | CPU ms/msg: server · PostgreSQL · load |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of input.rows) {
    const r = row.result;
    const base = input.rows.find((x) => x.target === 'baseline' && x.result.concurrency === r.concurrency);
    const ratio = row.target === 'carebridge' && base ? `${fmt(r.throughput / base.result.throughput, 2)}×` : '';
    lines.push(`| ${row.target} | ${r.concurrency} | ${fmt(r.throughput)} | ${fmt(r.latencyMs.p50)} | ${fmt(r.latencyMs.p95)} | ${fmt(r.latencyMs.p99)} | ${fmt(r.latencyMs.max)} | ${r.errors} | ${row.rssMiB ? fmt(row.rssMiB, 0) : ''} | ${ratio} | ${cpuCell(r.cpuPerMessage)} |`);
  }
  if (input.seeded) lines.push('', `Seeding (first contact: every message a new patient, ${options.seedConnections} connections): ${input.seeded.patients} messages in ${fmt(input.seeded.seconds)} s = ${fmt(input.seeded.patients / input.seeded.seconds)} messages/s`);
  lines.push('', `Message log after the run: ${input.statuses.map((s) => `${s.status} ${s.n}`).join(', ') || 'n/a'}`);
  const one = input.rows.find((x) => x.target === 'carebridge' && x.result.concurrency === 1)?.result;
  if (one) {
    // "Sustained" is judged by a soak's last five minutes when there is one at 1 connection; a short run only says how fast a young database is.
    const soaked = input.soak?.connections === 1 ? input.soak.lastFiveMinutesThroughput : undefined;
    const sustained = soaked === undefined ? `${fmt(one.throughput)} in ${fmt(one.seconds, 0)} s (not a soak: not judged)` : `${fmt(soaked)} over the soak's last 5 min ${soaked >= 200 ? 'PASS' : 'FAIL'}`;
    lines.push('', `Targets (1 connection): ≥ 200 messages/s sustained — ${sustained}; p99 ACK < 100 ms — ${fmt(one.latencyMs.p99)} ms ${one.latencyMs.p99 < 100 ? 'PASS' : 'FAIL'}`);
  }
  if (input.soak) {
    const s = input.soak;
    lines.push('', `Soak: ${fmt(s.seconds / 60, 0)} min at ${s.connections} connection(s), ${s.messages} messages (${fmt(s.throughput)}/s), p99 ${fmt(s.p99Ms)} ms${s.cpuPerMessage ? `; CPU ms per message: server · PostgreSQL · load ${cpuCell(s.cpuPerMessage)}` : ''}`);
    lines.push(`Messages/s per minute: ${s.throughputPerMinute.join(', ')}${s.lastFiveMinutesThroughput === undefined ? '' : `; last 5 min ${fmt(s.lastFiveMinutesThroughput)}`}`);
    if (s.wal) lines.push(`WAL a message: ${fmt(s.wal.records, 0)} records, ${fmt(s.wal.fullPageImages)} full-page images, ${fmt(s.wal.kib)} KiB; ${s.wal.checkpoints} checkpoints in the soak`);
    lines.push(`Server RSS per minute (MiB): ${s.rssPerMinuteMiB.join(', ')}`);
    lines.push(s.growth === undefined ? 'RSS growth: soak too short to judge (needs ≥ 15 min)' : `RSS growth, last 5 min vs minutes 5–10: ${fmt(s.growth * 100)} % — ${s.growth <= 0.1 ? 'PASS' : 'FAIL'} (target ≤ 10 %)`);
  }
  return `${lines.join('\n')}\n`;
}

main().catch(async (err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  await stopAll();
  process.exit(1);
});
