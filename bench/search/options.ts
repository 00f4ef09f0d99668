/**
 * Options of the search benchmark, read once from the environment and echoed into the results
 * JSON. See bench/search/RESULTS.md for what each one does.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SearchBenchOptions {
  /** Patients to generate (BENCH_PATIENTS, default 20,000 ≈ 1.05 million resources). */
  patients: number;
  /** Seed of the dataset generator and of the query parameter choices (BENCH_SEED, default 1). */
  seed: number;
  /** Measured seconds per query and client count (BENCH_SECONDS, default 10). */
  seconds: number;
  /** Unmeasured warm-up seconds before each measurement (BENCH_WARMUP_SECONDS, default 2). */
  warmupSeconds: number;
  /** Closed-loop client counts (BENCH_CONCURRENCY, default "1,8"). */
  concurrency: number[];
  /** Query ids to run (BENCH_QUERIES, e.g. "1,3,6" or "2a,10b"; default all). Empty = all. */
  queries: string[];
  /** Where the embedded PostgreSQL and the manifest live (BENCH_DATA_DIR). */
  dataDir: string;
  /** True when BENCH_DATA_DIR was given (otherwise the default folder for this size and seed). */
  dataDirGiven: boolean;
  /** Parallel transaction uploaders during the load (BENCH_LOAD_CLIENTS, default 3). */
  loadClients: number;
  /** Entries per transaction Bundle, at least (BENCH_BUNDLE_ENTRIES, default 300). */
  bundleEntries: number;
  /** Patients with ~500 resources for $everything (BENCH_HEAVY_PATIENTS, default 3). */
  heavyPatients: number;
  /** Capture the server's SQL and EXPLAIN it (BENCH_EXPLAIN, default 1). */
  explain: boolean;
  /** Server connection pool size (DB_POOL_SIZE, default 20). */
  dbPoolSize: number;
  repoRoot: string;
  resultsDir: string;
}

const SEARCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(SEARCH_DIR, '..', '..');

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number, integer = false): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  return !['0', 'false', 'no', 'off'].includes((env[name] ?? '1').trim().toLowerCase());
}

export function loadSearchOptions(env: NodeJS.ProcessEnv = process.env): SearchBenchOptions {
  const patients = positive(env, 'BENCH_PATIENTS', 20_000, true);
  const seed = positive(env, 'BENCH_SEED', 1, true);
  const seconds = positive(env, 'BENCH_SECONDS', 10);
  const concurrencyRaw = env.BENCH_CONCURRENCY?.trim() || '1,8';
  const concurrency = [...new Set(concurrencyRaw.split(',').map((s) => Number(s.trim())))];
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) throw new Error(`BENCH_CONCURRENCY must list integers from 1 to 256, got "${concurrencyRaw}"`);
  const queries = (env.BENCH_QUERIES ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase().replace(/^q/, ''))
    .filter(Boolean);
  const given = env.BENCH_DATA_DIR?.trim();
  return {
    patients,
    seed,
    seconds,
    warmupSeconds: Math.min(seconds, positive(env, 'BENCH_WARMUP_SECONDS', 2)),
    concurrency,
    queries,
    dataDir: path.resolve(given || path.join(os.tmpdir(), `carebridge-search-bench-p${patients}-s${seed}`)),
    dataDirGiven: Boolean(given),
    loadClients: positive(env, 'BENCH_LOAD_CLIENTS', 3, true),
    bundleEntries: positive(env, 'BENCH_BUNDLE_ENTRIES', 300, true),
    heavyPatients: positive(env, 'BENCH_HEAVY_PATIENTS', 3, true),
    explain: flag(env, 'BENCH_EXPLAIN'),
    dbPoolSize: positive(env, 'DB_POOL_SIZE', 20, true),
    repoRoot: REPO_ROOT,
    resultsDir: path.join(SEARCH_DIR, 'results'),
  };
}
