/**
 * CareBridge benchmark orchestrator: `node bench/run.ts` (npm run bench).
 *
 * Starts the server as its own process (`node src/cli.ts serve`, fresh DATA_DIR with an embedded
 * PostgreSQL, LOG_LEVEL=warn), creates a second database on the same PostgreSQL for the raw-SQL
 * baseline, then measures, with this process as the closed-loop load generator:
 *   - single-resource create / read / update of Patients at 1, 8 and 32 clients, server vs raw SQL;
 *   - transaction ingest of the Synthea Bundles at 1 and 2 parallel uploaders, server vs raw SQL;
 *   - the server process's RSS throughout.
 * It prints a markdown report to stdout (progress goes to stderr), writes the raw numbers to
 * bench/results/<ISO timestamp>.json, and always stops the server and removes its DATA_DIR, on
 * success, error or Ctrl-C. Options are environment variables; see bench/RESULTS.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { loadDefinitions } from '../src/fhir/definitions.ts';
import { BaselineDb } from './lib/baseline-sql.ts';
import { newestProfile, profileMarkdown } from './lib/cpu-profile.ts';
import { machineInfo, postgresVersion } from './lib/machine.ts';
import { loadOptions, syntheaAvailable } from './lib/options.ts';
import { checkTargets, reportMarkdown } from './lib/report.ts';
import type { BenchResults } from './lib/report.ts';
import { RssSampler } from './lib/rss.ts';
import { startServerProcess } from './lib/server-process.ts';
import { loadSyntheaBundles } from './lib/synthea.ts';
import { CrudScenarios } from './scenarios/crud.ts';
import type { CrudOperation, CrudRow } from './scenarios/crud.ts';
import { runIngest } from './scenarios/ingest.ts';
import type { IngestRow } from './scenarios/ingest.ts';

const BASELINE_DATABASE = 'carebridge_bench_baseline';

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** Cleanup steps, run once in reverse order whatever ends the run. */
const cleanups: Array<() => Promise<void> | void> = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        log(`cleanup step failed: ${(err as Error).message}`);
      }
    }
  })());
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    log(`${signal}: stopping the server and removing its data`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}
// Whatever goes wrong, the server child and its DATA_DIR must not outlive the run.
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    log(`${event}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    void cleanup().finally(() => process.exit(1));
  });
}

async function main(): Promise<void> {
  const options = loadOptions();
  const startedAt = new Date();
  const machine = machineInfo(options.repoRoot);
  log(`scenarios ${options.scenarios.join(', ')}; ${options.warmupSeconds} s warm-up + ${options.seconds} s per run; clients ${options.concurrency.join(', ')}; ingest uploaders ${options.ingestConcurrency.join(', ')}; baseline ${options.baseline ? 'on' : 'off'}`);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, load average ${machine.loadAverage.join(' ')}`);

  log('starting the server (node src/cli.ts serve) with a fresh embedded PostgreSQL…');
  const server = await startServerProcess({
    repoRoot: options.repoRoot,
    dbPoolSize: options.dbPoolSize,
    cpuProfDir: options.cpuProfDir,
    onSpawn: (stop) =>
      cleanups.push(async () => {
        log('stopping the server');
        await stop();
      }),
  });
  log(`server pid ${server.pid} ready at ${server.fhirBaseUrl}, DATA_DIR ${server.dataDir}`);
  const rss = new RssSampler(server.pid);
  cleanups.push(() => rss.stop());

  // A session on the server's own database: PostgreSQL version, and ANALYZE before each run.
  const serverDb = new pg.Client({ connectionString: server.postgresUrl });
  serverDb.on('error', (err) => log(`server database session lost: ${err.message}`));
  await serverDb.connect();
  cleanups.push(() => serverDb.end());
  machine.postgres = await postgresVersion(serverDb);
  log(`PostgreSQL: ${machine.postgres}`);

  let baseline: BaselineDb | undefined;
  if (options.baseline) {
    baseline = await BaselineDb.create(server.postgresUrl, BASELINE_DATABASE, options.dbPoolSize);
    cleanups.push(() => baseline?.close());
    loadDefinitions(); // extractIndexRows needs the R4 SearchParameters
    log(`baseline database ${BASELINE_DATABASE} created with the server's migrations`);
  }

  const analyze = async (side: 'server' | 'baseline'): Promise<void> => {
    if (!options.analyze) return;
    if (side === 'server') await serverDb.query('ANALYZE');
    else await baseline?.pool.query('ANALYZE');
  };

  const crud: CrudRow[] = [];
  const crudOps = (['create', 'read', 'update'] as const).filter((op: CrudOperation) => options.scenarios.includes(op));
  if (crudOps.length) {
    const scenarios = new CrudScenarios({ options, server, baseline, rss, analyze, log });
    for (const concurrency of options.concurrency) {
      for (const op of crudOps) crud.push(await scenarios.run(op, concurrency));
    }
  }

  const ingest: IngestRow[] = [];
  let ingestSkipped: string | undefined;
  if (options.scenarios.includes('ingest')) {
    if (!syntheaAvailable(options.syntheaDir)) {
      ingestSkipped = `No Synthea Bundles (*.json) found in ${options.syntheaDir}; the ingest scenario was skipped. Point SYNTHEA_DIR (or --synthea-dir) at a folder of Synthea R4 transaction Bundles.`;
      log(`WARNING: ${ingestSkipped}`);
    } else {
      const bundles = loadSyntheaBundles(options.syntheaDir);
      log(`ingest: ${bundles.length} Bundles, ${bundles.reduce((n, b) => n + b.resources, 0)} resources from ${options.syntheaDir}`);
      for (const concurrency of options.ingestConcurrency) ingest.push(await runIngest({ server, baseline, rss, analyze, log }, bundles, concurrency));
    }
  }

  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      concurrency: options.concurrency,
      ingestConcurrency: options.ingestConcurrency,
      scenarios: options.scenarios,
      baseline: options.baseline,
      analyze: options.analyze,
      syntheaDir: options.syntheaDir,
      dbPoolSize: options.dbPoolSize,
      cpuProfDir: options.cpuProfDir,
      seed: options.seed,
    },
    machine,
    server: { maxRssMiB: rss.maxMiB, rssSamples: rss.samples },
    crud,
    ingest,
    ingestSkipped,
    targets: checkTargets(crud, ingest),
  };

  await cleanup(); // stop the server before reporting, so a CPU profile is complete
  process.stdout.write(`\n${reportMarkdown(results)}\n`);
  await fs.mkdir(options.resultsDir, { recursive: true });
  const file = path.join(options.resultsDir, `${results.startedAt.replace(/\.\d+Z$/, 'Z').replaceAll(':', '-')}.json`);
  await fs.writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`raw results written to ${path.relative(process.cwd(), file)}`);
  if (options.cpuProfDir) {
    const profile = await newestProfile(options.cpuProfDir, startedAt.getTime());
    if (profile) process.stdout.write(`\n${profileMarkdown(profile)}\n`);
    else log(`no .cpuprofile found in ${options.cpuProfDir}`);
  }
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    // After Ctrl-C the running scenario fails as its connections close; that is not news.
    if (!interrupted) log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exit(1);
  },
);
