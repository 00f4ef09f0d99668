/**
 * Subscription engine benchmark: `node bench/subscriptions/run.ts` (npm run bench:subscriptions).
 *
 * Issue 5's targets on the 2-core machine: with 100 active rest-hook subscriptions and 50
 * writes/s, p99 event → delivery < 100 ms; ≥ 1,000 notifications/s delivered; write throughput
 * < 15 % lower with 100 subscriptions than with none. Each run starts CareBridge as its own
 * process (`node src/cli.ts serve`, SUBSCRIPTION_ENGINE=on, fresh embedded PostgreSQL) so no run
 * inherits another's backlog; this process writes Observations over the REST API and is also
 * every subscriber (bench/subscriptions/receiver.ts: a node:http server answering 200 at once).
 * Runs: latency at a fixed write rate with every write matching 1/10 of the subscriptions and
 * with every write matching all of them; a burst then the delivery rate; write throughput with 0
 * and with 100 non-matching subscriptions in alternating rounds, optionally also with the engine
 * off or with 100 matching ones (a stress run) (bench/subscriptions/scenarios.ts).
 * Markdown report on stdout, progress on stderr, raw numbers in
 * bench/results/subscriptions-<time>.json. See bench/subscriptions/RESULTS.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { profileMarkdown } from '../lib/cpu-profile.ts';
import { HttpClient } from '../lib/http-client.ts';
import { machineInfo, postgresVersion, sourceFingerprint } from '../lib/machine.ts';
import { startServerProcess } from '../lib/server-process.ts';
import type { ServerProcess } from '../lib/server-process.ts';
import { createPatient } from './fhir.ts';
import { loadOptions } from './options.ts';
import type { SubscriptionBenchOptions } from './options.ts';
import { HookReceiver } from './receiver.ts';
import { reportMarkdown } from './report.ts';
import type { SubscriptionBenchResults } from './report.ts';
import { runBurst, runLatency, runWriteCost } from './scenarios.ts';
import type { BurstRun, CostRun, LatencyRun, ServerContext } from './scenarios.ts';

const log = (message: string) => process.stderr.write(`[bench:subscriptions] ${message}\n`);

let current: ServerProcess | undefined;
let stopCurrent: (() => Promise<void>) | undefined;
const stopAll = async () => {
  await (stopCurrent?.() ?? current?.stop())?.catch(() => undefined);
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll().finally(() => process.exit(130)));

let pgVersion: string | undefined;
const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');

function serverEnv(o: SubscriptionBenchOptions): Record<string, string> {
  return {
    SUBSCRIPTION_ENGINE: 'on',
    SUBSCRIPTION_POLL_MS: String(o.pollMs),
    SUBSCRIPTION_MAX_IN_FLIGHT: String(o.maxInFlight),
    LOG_LEVEL: 'warn',
  };
}

/** The newest .cpuprofile in a folder, summarised; undefined when there is none. */
async function profileSummary(dir: string, name: string): Promise<string | undefined> {
  const files = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
  const file = files[files.length - 1];
  return file ? `#### ${name}\n\n${profileMarkdown(path.join(dir, file), 15)}` : undefined;
}

/** Starts a fresh server, runs `work` against it, stops it (and summarises its CPU profile when profiling). */
async function withServer<T>(o: SubscriptionBenchOptions, receiver: HookReceiver, name: string, profiles: string[], work: (ctx: ServerContext) => Promise<T>, engine = true): Promise<T> {
  const cpuProfDir = o.cpuProfDir ? path.join(o.cpuProfDir, `subscriptions-${stamp}-${name}`) : undefined;
  log(`${name}: starting a fresh server${engine ? '' : ' (SUBSCRIPTION_ENGINE=off)'}`);
  const env = { ...serverEnv(o), ...(engine ? {} : { SUBSCRIPTION_ENGINE: 'off' }) };
  const server = await startServerProcess({ repoRoot: o.repoRoot, dbPoolSize: o.dbPoolSize, cpuProfDir, env, onSpawn: (stop) => (stopCurrent = stop) });
  current = server;
  const client = new HttpClient(server.url, Math.max(o.writeClients, 32));
  const db = new pg.Pool({ connectionString: server.postgresUrl, max: 2 });
  db.on('error', () => undefined); // idle connections are cut when the server stops its PostgreSQL
  try {
    pgVersion ??= await postgresVersion(db).catch(() => undefined);
    await createPatient(client);
    return await work({ server, client, db, receiver, options: o, log });
  } finally {
    client.close();
    await db.end().catch(() => undefined);
    await server.stop();
    current = undefined;
    stopCurrent = undefined;
    if (cpuProfDir) {
      const summary = await profileSummary(cpuProfDir, name);
      if (summary) profiles.push(summary);
    }
  }
}

async function main(): Promise<void> {
  const o = loadOptions();
  const startedAt = new Date().toISOString();
  const machine = machineInfo(o.repoRoot);
  const fingerprint = await sourceFingerprint(o.repoRoot);
  if (fingerprint) machine.source = `${machine.source} (${fingerprint})`;
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; load average ${machine.loadAverage.join(' ')}; scenarios ${o.scenarios.join(', ')}`);
  const receiver = await HookReceiver.start();
  const profiles: string[] = [];
  const latency: LatencyRun[] = [];
  const cost: CostRun[] = [];
  let burst: BurstRun | undefined;
  try {
    for (const scenario of o.scenarios) {
      if (scenario === 'latency-spread') latency.push(await withServer(o, receiver, scenario, profiles, (ctx) => runLatency(ctx, 'spread')));
      if (scenario === 'latency-all') latency.push(await withServer(o, receiver, scenario, profiles, (ctx) => runLatency(ctx, 'all')));
      if (scenario === 'burst') burst = await withServer(o, receiver, scenario, profiles, (ctx) => runBurst(ctx));
      if (scenario === 'cost') {
        for (let round = 1; round <= o.costRounds; round++) {
          for (const variant of o.costVariants) cost.push(await withServer(o, receiver, `cost-${variant}-${round}`, profiles, (ctx) => runWriteCost(ctx, variant, round), variant !== 'off'));
        }
      }
    }
  } finally {
    await receiver.stop();
  }
  machine.postgres = pgVersion;
  const { repoRoot: _root, resultsDir: _dir, ...echoed } = o;
  const results: SubscriptionBenchResults = { startedAt, machine, options: echoed, latency, burst, cost, strayDeliveries: receiver.stray, profiles };
  process.stdout.write(reportMarkdown(results));
  await fs.mkdir(o.resultsDir, { recursive: true });
  const file = path.join(o.resultsDir, `subscriptions-${stamp}.json`);
  // Undelivered notifications are infinitely late: JSON writes them as null.
  await fs.writeFile(file, JSON.stringify({ ...results, burst: results.burst ?? null, finishedAt: new Date().toISOString() }, null, 2));
  log(`raw results: ${path.relative(o.repoRoot, file)}`);
}

main().catch(async (err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  await stopAll();
  process.exit(1);
});
