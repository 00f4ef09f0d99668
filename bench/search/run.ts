/**
 * CareBridge search benchmark: `node bench/search/run.ts`. See bench/search/RESULTS.md.
 *
 * 1. Starts the server (`node src/cli.ts serve`, LOG_LEVEL=warn) on a DATA_DIR that is kept.
 * 2. If that DATA_DIR has no manifest yet: generates the dataset (≈1.05 M resources for 20,000
 *    patients) and loads it through the server's transaction endpoint with a few concurrent
 *    uploaders, runs VACUUM ANALYZE, and writes the manifest (sample patients' ids and
 *    identifiers, heavy patients, exact match counts). Otherwise reuses the loaded data.
 * 3. Restarts the server after a load (so the queries always run in a fresh server process), then
 *    for each query: a checked probe, then closed-loop measurements at 1 and 8 clients.
 * 4. Restarts the server at LOG_LEVEL=debug, captures the SQL it runs for each query from the
 *    PostgreSQL statement log and EXPLAIN ANALYZEs it, flagging Seq Scans in selective queries.
 * 5. Prints a markdown report (progress goes to stderr) and writes the raw results to
 *    bench/search/results/<ISO timestamp>.json. The server is stopped; DATA_DIR stays.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { machineInfo, postgresVersion } from '../lib/machine.ts';
import { RssSampler } from '../lib/rss.ts';
import { capturePlans, PostgresLogCollector } from './explain.ts';
import type { QueryPlans } from './explain.ts';
import { LOADING_FILE, loadDataset, readManifest, writeManifest } from './loader.ts';
import type { Manifest } from './loader.ts';
import { QueryRunner } from './measure.ts';
import type { QueryResult } from './measure.ts';
import { loadSearchOptions } from './options.ts';
import { QUERIES } from './queries.ts';
import { checkTargets, reportMarkdown } from './report.ts';
import type { SearchResults } from './report.ts';
import { startServer } from './server.ts';
import type { RunningServer } from './server.ts';

const log = (message: string) => process.stderr.write(`[search-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const PROBE_REQUESTS = 8;

const cleanups: Array<() => Promise<void> | void> = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) {
    const step = cleanups.pop() as () => Promise<void> | void;
    try {
      await step();
    } catch (err) {
      log(`cleanup step failed: ${(err as Error).message}`);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping the server (the data directory is kept)`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

async function connect(url: string): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: url, application_name: 'carebridge-search-bench' });
  await db.connect();
  return db;
}

/** The server's own memory gauges (prom-client default metrics), MiB: how much of the RSS is JS heap vs. external buffers. */
async function memoryBreakdown(fhirBaseUrl: string): Promise<Record<string, number> | undefined> {
  try {
    const text = await (await fetch(fhirBaseUrl.replace(/\/fhir$/, '/metrics'))).text();
    const out: Record<string, number> = {};
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes']) {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
      if (m) out[name.replace(/_bytes$/, '_mib')] = Math.round((Number(m[1]) / 2 ** 20) * 10) / 10;
    }
    return out;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const options = loadSearchOptions();
  const startedAt = new Date();
  const machine = machineInfo(options.repoRoot);
  const unknown = options.queries.filter((q) => !QUERIES.some((d) => d.id === q));
  if (unknown.length) throw new Error(`BENCH_QUERIES: unknown query id(s) ${unknown.join(', ')} (known: ${QUERIES.map((d) => d.id).join(', ')})`);
  const defs = QUERIES.filter((d) => options.queries.length === 0 || options.queries.includes(d.id));
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, load average ${machine.loadAverage.join(' ')}`);
  log(`data dir ${options.dataDir}; queries ${defs.map((d) => d.id).join(', ')}; ${options.warmupSeconds} s warm-up + ${options.seconds} s per query and client count (${options.concurrency.join(', ')})`);

  let manifest = await readManifest(options.dataDir);
  if (!manifest && ((await exists(path.join(options.dataDir, LOADING_FILE))) || (await exists(path.join(options.dataDir, 'postgres'))))) {
    throw new Error(`${options.dataDir} holds an unfinished load (no manifest). Remove it (rm -rf ${options.dataDir}) or choose another BENCH_DATA_DIR.`);
  }
  if (manifest && manifest.generator.patients !== options.patients && process.env.BENCH_PATIENTS) {
    log(`note: BENCH_PATIENTS=${options.patients}, but ${options.dataDir} holds ${manifest.generator.patients} patients; using what is loaded`);
  }

  // --- server, load ---------------------------------------------------------------------------
  log(`starting the server on ${options.dataDir} (LOG_LEVEL=warn)…`);
  let server: RunningServer = await startServer({ repoRoot: options.repoRoot, dataDir: options.dataDir, dbPoolSize: options.dbPoolSize, logLevel: 'warn' });
  cleanups.push(() => server.stop());
  let rss = new RssSampler(server.pid);
  cleanups.push(() => rss.stop());
  const db = await connect(server.postgresUrl);
  machine.postgres = await postgresVersion(db);
  await db.end();
  log(`server pid ${server.pid} at ${server.fhirBaseUrl}; ${machine.postgres}`);

  const loadedNow = !manifest;
  if (!manifest) {
    await fs.writeFile(path.join(options.dataDir, LOADING_FILE), new Date().toISOString());
    const generator = { patients: options.patients, seed: options.seed, heavyPatients: options.heavyPatients, samplePatients: 200, bundleEntries: options.bundleEntries };
    log(`loading ${options.patients.toLocaleString('en-US')} patients (~${Math.round(options.patients * 52.6).toLocaleString('en-US')} resources) with ${options.loadClients} uploaders…`);
    const loaded = await loadDataset({ fhirBaseUrl: server.fhirBaseUrl, clients: options.loadClients, generator, log });
    const loadRss = rss.takeWindowMaxMiB();
    log(`loaded ${loaded.load.resources.toLocaleString('en-US')} resources in ${loaded.load.seconds.toFixed(0)} s (${Math.round(loaded.load.resourcesPerSecond)}/s); VACUUM ANALYZE…`);
    const admin = await connect(server.postgresUrl);
    const t0 = performance.now();
    await admin.query('VACUUM (ANALYZE)');
    const vacuumSeconds = (performance.now() - t0) / 1000;
    const size = await admin.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
    await admin.end();
    const full: Manifest = { ...loaded, load: { ...loaded.load, vacuumSeconds, databaseBytes: Number(size.rows[0]?.bytes ?? 0), serverMaxRssMiB: loadRss } };
    await writeManifest(options.dataDir, full);
    manifest = full;
    log(`VACUUM ANALYZE ${vacuumSeconds.toFixed(0)} s; manifest written; restarting the server so the queries run in a fresh process, as on a reused data dir…`);
    rss.stop();
    await server.stop();
    server = await startServer({ repoRoot: options.repoRoot, dataDir: options.dataDir, dbPoolSize: options.dbPoolSize, logLevel: 'warn' });
    rss = new RssSampler(server.pid);
  } else {
    log(`reusing the data loaded ${manifest.createdAt}: ${manifest.load.resources.toLocaleString('en-US')} resources`);
  }
  const m: Manifest = manifest;
  rss.takeWindowMaxMiB();

  // --- queries --------------------------------------------------------------------------------
  const runner = new QueryRunner(server.fhirBaseUrl);
  const results: QueryResult[] = [];
  const examples = new Map<string, string>();
  for (const def of defs) {
    const probe = await runner.probe(def.make(m), PROBE_REQUESTS);
    examples.set(def.id, def.make(m)().path);
    log(`q${def.id} ${def.title}: probe ${probe.status}, p50 ${probe.latencyMs.p50.toFixed(1)} ms${probe.mismatches.length ? `; ${probe.mismatches.length} problem(s): ${probe.mismatches[0]}` : ''}`);
    const result: QueryResult = { id: def.id, title: def.title, varies: def.varies, selective: def.selective, probe, runs: [] };
    results.push(result);
    if (probe.status !== 'ok') continue;
    for (const concurrency of options.concurrency) {
      rss.takeWindowMaxMiB();
      const run = await runner.measure(def.make(m), concurrency, options.warmupSeconds * 1000, options.seconds * 1000);
      const measured = { ...run, rssMaxMiB: rss.takeWindowMaxMiB() };
      result.runs.push(measured);
      log(`q${def.id} × ${concurrency}: ${run.throughput.toFixed(1)} req/s, p50 ${run.latencyMs.p50.toFixed(1)} ms, p95 ${run.latencyMs.p95.toFixed(1)} ms, p99 ${run.latencyMs.p99.toFixed(1)} ms${run.errors ? `, ${run.errors} errors (${run.firstError})` : ''}`);
    }
  }
  const maxRssQueries = results.flatMap((r) => r.runs.map((x) => x.rssMaxMiB ?? 0)).reduce((a, b) => Math.max(a, b), 0) || rss.maxMiB;
  const rssSamples = rss.samples;
  const memory = await memoryBreakdown(server.fhirBaseUrl);
  rss.stop();
  await server.stop();

  // --- EXPLAIN --------------------------------------------------------------------------------
  let plans: QueryPlans[] | undefined;
  let explainError: string | undefined;
  if (options.explain) {
    try {
      log('restarting the server at LOG_LEVEL=debug to capture its SQL…');
      const collector = new PostgresLogCollector();
      server = await startServer({ repoRoot: options.repoRoot, dataDir: options.dataDir, dbPoolSize: options.dbPoolSize, logLevel: 'debug', onLine: collector.onLine, echo: false });
      rss = new RssSampler(server.pid);
      const admin = await connect(server.postgresUrl);
      try {
        const targets = defs.map((d) => ({ id: d.id, selective: d.selective, path: examples.get(d.id) as string }));
        plans = await capturePlans(server.fhirBaseUrl, admin, collector, targets, log);
      } finally {
        await admin.end();
      }
    } catch (err) {
      explainError = (err as Error).message;
      log(`EXPLAIN step failed: ${explainError}`);
    } finally {
      rss.stop();
      await server.stop();
    }
  }
  await cleanup();

  const { samples, heavy, ...rest } = m;
  const report: SearchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: (({ repoRoot: _r, resultsDir: _d, ...o }) => o)(options),
    machine,
    dataDir: options.dataDir,
    loadedNow,
    manifest: { ...rest, samples: samples.length, heavy: heavy.map((h) => ({ id: h.id, resources: h.resources })) },
    queries: results,
    server: { maxRssMiBQueries: maxRssQueries, maxRssMiBLoad: loadedNow ? m.load.serverMaxRssMiB : undefined, rssSamples, memoryAfterQueries: memory },
    plans,
    explainError,
    targets: checkTargets(defs, results, options.concurrency, maxRssQueries),
  };
  process.stdout.write(`\n${reportMarkdown(report)}\n`);
  await fs.mkdir(options.resultsDir, { recursive: true });
  const file = path.join(options.resultsDir, `${report.startedAt.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')}.json`);
  await fs.writeFile(file, `${JSON.stringify(report, null, 1)}\n`);
  log(`raw results: ${path.relative(process.cwd(), file)}; data dir kept for reuse: BENCH_DATA_DIR=${options.dataDir}`);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exit(1);
  },
);
