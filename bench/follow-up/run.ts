/**
 * Discharge → care plan benchmark: `node bench/follow-up/run.ts` (npm run bench:follow-up).
 *
 * Issue 6's target: "discharge-to-care-plan latency p99 < 2 s under 20 discharges/s with the
 * other load running". A discharge is an ADT^A03 over MLLP that finishes an inpatient Encounter.
 * The engine's internal subscriber `discharge-follow-up` then writes, in one transaction, the risk
 * assessments, one CarePlan, its Tasks and a Provenance (up to 4 encounters at once, each in order;
 * at 20/s it must finish one every 50 ms on average or a queue builds). Measured end to end,
 * as a client of CareBridge sees it: from the moment the A03 is written to the socket until a
 * rest-hook subscription on `CarePlan` delivers the patient's plan to this process
 * (bench/follow-up/receiver.ts).
 *
 * One server (`node src/cli.ts serve`, SUBSCRIPTION_ENGINE=on, fresh embedded PostgreSQL). Every
 * patient is admitted first with an ADT^A01 (untimed; bench/follow-up/seed.ts), so each measured
 * discharge is a different patient with a current stay. A batch of untimed discharges then fills
 * the follow-up tables before ANALYZE (bench/follow-up/prime.ts), so no phase runs on statistics
 * taken before any follow-up existed. Then two phases (bench/follow-up/phase.ts):
 * a baseline at the same discharge rate with nothing else running (BENCH_BASELINE=0 skips it),
 * then the phase under load, where lab results over MLLP, home readings and clinician reads over
 * REST run beside the discharges, each open loop at its own rate (bench/follow-up/loads.ts).
 * Markdown report on stdout, progress on stderr, raw numbers in
 * bench/results/follow-up-<time>.json. See bench/follow-up/RESULTS.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { HttpClient } from '../lib/http-client.ts';
import { machineInfo, postgresVersion } from '../lib/machine.ts';
import { RssSampler } from '../lib/rss.ts';
import { startServerProcess } from '../lib/server-process.ts';
import type { ServerProcess } from '../lib/server-process.ts';
import { messageLogCounts, waitForQueues } from './engine-queues.ts';
import { subscribeToCarePlans } from './fhir.ts';
import { FollowUpMessages } from './messages.ts';
import { dischargesPerPhase, loadOptions } from './options.ts';
import { runPhase } from './phase.ts';
import { primeFollowUp } from './prime.ts';
import type { PrimeResult } from './prime.ts';
import type { PhaseContext, PhaseResult } from './phase.ts';
import { CarePlanReceiver } from './receiver.ts';
import { reportMarkdown } from './report.ts';
import type { FollowUpBenchResults } from './report.ts';
import { seedPatients } from './seed.ts';
import { sourceNote } from './source.ts';

const log = (message: string) => process.stderr.write(`[bench:follow-up] ${message}\n`);
/** Longest wait for the engine's queues to empty before a phase. */
const QUIET_LIMIT_MS = 120_000;

let stopServer: (() => Promise<void>) | undefined;
let receiver: CarePlanReceiver | undefined;
const stopAll = async () => {
  await stopServer?.().catch(() => undefined);
  await receiver?.stop().catch(() => undefined);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the server and removing its data folder`);
    void stopAll().finally(() => process.exit(130));
  });
}

/** Waits for the engine's queues to empty before a phase (at most QUIET_LIMIT_MS). */
async function quiet(db: pg.Pool, before: string): Promise<FollowUpBenchResults['quiet'][number]> {
  const { seconds, pending } = await waitForQueues(db, QUIET_LIMIT_MS);
  log(pending ? `  engine still has ${pending} notifications pending after ${seconds.toFixed(0)} s; starting the ${before} anyway` : `  engine quiet after ${seconds.toFixed(1)} s`);
  return { before, seconds, pending };
}

/** Warn-and-above lines among the server's last output lines (pino JSON: level ≥ 40). */
function serverWarnings(server: ServerProcess): FollowUpBenchResults['serverWarnings'] {
  const messages = new Set<string>();
  let lines = 0;
  for (const line of server.recentOutput().split('\n')) {
    let entry: { level?: number; msg?: string; err?: { message?: string } };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if ((entry.level ?? 0) < 40) continue;
    lines++;
    messages.add(`${entry.msg ?? '?'}${entry.err?.message ? `: ${entry.err.message}` : ''}`.slice(0, 200));
  }
  return { lines, messages: [...messages].slice(0, 5) };
}

async function main(): Promise<void> {
  const o = loadOptions();
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const machine = machineInfo(o.repoRoot);
  const note = await sourceNote(o.repoRoot, o.serverDir);
  if (note) machine.source = `${machine.source} (${note})`;
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; load average ${machine.loadAverage.join(' ')}; code ${machine.source}`);

  receiver = await CarePlanReceiver.start();
  const env: Record<string, string> = { SUBSCRIPTION_ENGINE: 'on', LOG_LEVEL: 'warn', ...(o.subscriptionPollMs === undefined ? {} : { SUBSCRIPTION_POLL_MS: String(o.subscriptionPollMs) }) };
  log(`starting the server (${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')})`);
  const server = await startServerProcess({ repoRoot: o.serverDir, dbPoolSize: o.dbPoolSize, env, onSpawn: (stop) => (stopServer = stop) });
  stopServer = () => server.stop();
  const rss = new RssSampler(server.pid);
  const client = new HttpClient(server.url, 16);
  const db = new pg.Pool({ connectionString: server.postgresUrl, max: 3 });
  db.on('error', () => undefined); // idle connections are cut when the server stops its PostgreSQL
  try {
    machine.postgres = await postgresVersion(db).catch(() => undefined);
    const subscription = await subscribeToCarePlans(client, receiver.endpoint);
    log(`CarePlan subscription ${subscription.id} active after ${subscription.activationMs.toFixed(0)} ms`);

    const baselineCount = o.baseline ? dischargesPerPhase(o, o.baselineSeconds) : 0;
    const loadedCount = dischargesPerPhase(o, o.seconds);
    const total = o.primeDischarges + baselineCount + loadedCount + o.extraPatients;
    const messages = new FollowUpMessages({ seed: o.seed, runId: `F${Date.now().toString(36)}` });
    log(`seeding ${total.toLocaleString('en-US')} inpatients (ADT^A01): ${o.primeDischarges} for priming, ${baselineCount} for the baseline, ${loadedCount} for the phase under load, ${o.extraPatients} that stay in hospital`);
    const seeded = await seedPatients(server.mllpPort, client, messages, total, o.timeoutSeconds * 1000);
    log(`  admitted in ${seeded.admissions.seconds.toFixed(1)} s (${seeded.admissions.perSecond.toFixed(1)}/s); Patient ids looked up in ${seeded.lookups.seconds.toFixed(1)} s`);
    await db.query('ANALYZE').catch(() => undefined);
    // Patients in seeding order: priming, baseline, under load, extra inpatients.
    const cohort = (from: number, count: number) => seeded.patients.slice(from, from + count);
    const primed = cohort(0, o.primeDischarges);
    let prime: PrimeResult | undefined;
    if (primed.length) {
      log(`priming: ${primed.length} untimed discharges, then ANALYZE`);
      prime = await primeFollowUp(db, server.mllpPort, messages, primed, o.timeoutSeconds * 1000);
      log(`  sent in ${prime.sendSeconds.toFixed(1)} s, follow-ups done ${prime.followUpSeconds.toFixed(1)} s later (mean ${prime.followUpServiceMs?.mean.toFixed(0) ?? '?'} ms per discharge on the seeding's statistics)`);
    }
    const quietWaits = [await quiet(db, o.baseline ? 'baseline' : 'phase under load')];

    const ctx: PhaseContext = {
      options: o,
      server,
      db,
      messages,
      receiver,
      subscriptionId: subscription.id,
      serverPid: server.pid,
      discharged: [...primed],
      extraInpatients: cohort(o.primeDischarges + baselineCount + loadedCount, o.extraPatients),
      rssWindowMiB: () => rss.takeWindowMaxMiB(),
      log,
    };
    const phases: PhaseResult[] = [];
    if (o.baseline) {
      phases.push(await runPhase(ctx, 'baseline', cohort(o.primeDischarges, baselineCount), o.baselineSeconds, false));
      quietWaits.push(await quiet(db, 'phase under load'));
    }
    phases.push(await runPhase(ctx, 'under load', cohort(o.primeDischarges + baselineCount, loadedCount), o.seconds, true));

    const { repoRoot: _root, resultsDir: _dir, ...echoed } = o;
    const results: FollowUpBenchResults = {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine,
      options: echoed,
      server: { env, subscriptionPollMs: o.subscriptionPollMs === undefined ? '200 (server default)' : String(o.subscriptionPollMs), rssMaxMiB: rss.maxMiB, codeDir: o.serverDir === o.repoRoot ? undefined : o.serverDir },
      seed: { ...seeded, patients: seeded.patients.length },
      subscription,
      prime,
      phases,
      quiet: quietWaits,
      receiver: { deliveries: receiver.deliveries, carePlans: receiver.carePlans, repeats: receiver.repeats, stray: receiver.stray, firstStray: receiver.firstStray },
      messageLog: await messageLogCounts(db).catch(() => []),
      serverWarnings: serverWarnings(server),
    };
    process.stdout.write(reportMarkdown(results));
    await fs.mkdir(o.resultsDir, { recursive: true });
    const file = path.join(o.resultsDir, `follow-up-${stamp}.json`);
    // Missing plans are infinitely late: JSON writes them as null.
    await fs.writeFile(file, JSON.stringify(results, null, 2));
    log(`raw results: ${path.relative(o.repoRoot, file)}`);
  } finally {
    rss.stop();
    client.close();
    await db.end().catch(() => undefined);
    await stopAll();
  }
}

main().catch(async (err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  await stopAll();
  process.exit(1);
});
