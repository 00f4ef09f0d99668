/**
 * Benchmark options, read once from the environment (and `--synthea-dir <dir>` on the command
 * line). They decide what is measured and for how long; every value is echoed into the results
 * JSON so a run can be reproduced exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuProfileDir } from './cpu-profile.ts';

export type Scenario = 'create' | 'read' | 'update' | 'ingest';
export const ALL_SCENARIOS: readonly Scenario[] = ['create', 'read', 'update', 'ingest'];

export interface BenchOptions {
  /** Measured seconds per CRUD scenario and concurrency (BENCH_SECONDS, default 10). */
  seconds: number;
  /** Unmeasured warm-up seconds before each CRUD measurement (BENCH_WARMUP_SECONDS, default 3, at most `seconds`). */
  warmupSeconds: number;
  /** Closed-loop client counts for create/read/update (BENCH_CONCURRENCY, default "1,8,32"). */
  concurrency: number[];
  /** Parallel transaction uploads for the Synthea ingest (BENCH_INGEST_CONCURRENCY, default "1,2"). */
  ingestConcurrency: number[];
  /** Which scenarios to run (BENCH_SCENARIOS, default "create,read,update,ingest"). */
  scenarios: Scenario[];
  /** Also run the raw-SQL baseline (BENCH_BASELINE, default 1; 0 skips it). */
  baseline: boolean;
  /**
   * Run ANALYZE on the server's and the baseline's database before each measured run
   * (BENCH_ANALYZE, default 1), so plans use current statistics as they would once autovacuum has
   * caught up, instead of statistics of the empty tables the run started with.
   */
  analyze: boolean;
  /** Folder of Synthea transaction Bundles (--synthea-dir or SYNTHEA_DIR). */
  syntheaDir: string;
  /** Server connection pool size (DB_POOL_SIZE, default 20, the server's own default); the baseline pool uses the same. */
  dbPoolSize: number;
  /** Write a V8 CPU profile of the server child into this folder (BENCH_CPU_PROF=1 → bench/results/profiles). */
  cpuProfDir: string | undefined;
  /** Seed of the payload generator (BENCH_SEED, default 1). */
  seed: number;
  /** Where the raw JSON results go. */
  resultsDir: string;
  /** Repository root (the server is started from here). */
  repoRoot: string;
}

const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const REPO_ROOT = path.dirname(BENCH_DIR);

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function integerList(env: NodeJS.ProcessEnv, name: string, fallback: string): number[] {
  const raw = env[name]?.trim() || fallback;
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1 || v > 1024)) {
    throw new Error(`${name} must be a comma-separated list of integers from 1 to 1024, got "${raw}"`);
  }
  return [...new Set(values)];
}

/** On unless set to 0/false/no/off. */
function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  return !['0', 'false', 'no', 'off'].includes((env[name] ?? '1').trim().toLowerCase());
}

function argValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === flag) return argv[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

export function loadOptions(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv.slice(2)): BenchOptions {
  const seconds = positiveNumber(env, 'BENCH_SECONDS', 10);
  const scenarioList = (env.BENCH_SCENARIOS?.trim() || ALL_SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const s of scenarioList) {
    if (!ALL_SCENARIOS.includes(s as Scenario)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${s}" (known: ${ALL_SCENARIOS.join(', ')})`);
  }
  const syntheaDir = path.resolve(argValue(argv, '--synthea-dir') ?? (env.SYNTHEA_DIR?.trim() || path.join(REPO_ROOT, '..', 'shared', 'fixtures', 'fhir', 'synthea-r4')));
  const resultsDir = path.join(BENCH_DIR, 'results');
  return {
    seconds,
    warmupSeconds: Math.min(seconds, positiveNumber(env, 'BENCH_WARMUP_SECONDS', 3)),
    concurrency: integerList(env, 'BENCH_CONCURRENCY', '1,8,32'),
    ingestConcurrency: integerList(env, 'BENCH_INGEST_CONCURRENCY', '1,2'),
    scenarios: ALL_SCENARIOS.filter((s) => scenarioList.includes(s)),
    baseline: flag(env, 'BENCH_BASELINE'),
    analyze: flag(env, 'BENCH_ANALYZE'),
    syntheaDir,
    dbPoolSize: Math.floor(positiveNumber(env, 'DB_POOL_SIZE', 20)),
    cpuProfDir: cpuProfileDir(env, resultsDir),
    seed: Math.floor(positiveNumber(env, 'BENCH_SEED', 1)),
    resultsDir,
    repoRoot: REPO_ROOT,
  };
}

/** True when the folder exists and holds at least one .json file. */
export function syntheaAvailable(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((f) => f.endsWith('.json'));
  } catch {
    return false;
  }
}
