/**
 * Options of the subscription benchmark, read once from the environment. They decide the load
 * (subscriptions, write rate, clients), how long each scenario runs and which scenarios run; the
 * whole object is echoed into the results JSON so a run can be repeated exactly.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberEnv } from '../lib/format.ts';

export const ALL_SCENARIOS = ['latency-spread', 'latency-all', 'burst', 'cost'] as const;
export type Scenario = (typeof ALL_SCENARIOS)[number];

export const COST_VARIANTS = ['off', 'none', 'nomatch', 'all'] as const;
export type CostVariant = (typeof COST_VARIANTS)[number];

export interface SubscriptionBenchOptions {
  /** Measured seconds of each latency and write-cost run (BENCH_SECONDS, default 20). */
  seconds: number;
  /** Unmeasured warm-up before each of them (BENCH_WARMUP_SECONDS, default 5). */
  warmupSeconds: number;
  /** Active rest-hook subscriptions (BENCH_SUBSCRIPTIONS, default 100). */
  subscriptions: number;
  /** Open-loop Observation writes per second in the latency runs (BENCH_WRITE_RATE, default 50). */
  writeRate: number;
  /** The spread variant puts the subscriptions on this many codes, so a write matches subscriptions/codes (BENCH_SPREAD_CODES, default 10, at most 10). */
  spreadCodes: number;
  /** Closed-loop writers of the write-cost runs and the burst (BENCH_WRITE_CLIENTS, default 8). */
  writeClients: number;
  /** Which write-cost runs (BENCH_COST_VARIANTS, default none,nomatch; off = SUBSCRIPTION_ENGINE=off, a reference; all = every write matching every subscription, a stress run). */
  costVariants: CostVariant[];
  /** Rounds of the write-cost runs, variants alternating, judged on medians (BENCH_COST_ROUNDS, default 2). */
  costRounds: number;
  /** Writes of the burst; each matches every subscription (BENCH_BURST_WRITES, default 100). */
  burstWrites: number;
  /** After the writes of a latency run stop, how long to wait for outstanding notifications (BENCH_DRAIN_SECONDS, default 20). */
  drainSeconds: number;
  /** Longest wait for the burst's notifications (BENCH_BURST_MAX_SECONDS, default 60). */
  burstMaxSeconds: number;
  /** The engine's idle poll (SUBSCRIPTION_POLL_MS passed to the server, default 50). */
  pollMs: number;
  /** Concurrent deliveries across subscriptions (SUBSCRIPTION_MAX_IN_FLIGHT passed to the server; default 128: every bench subscription plus the server's internal ones). */
  maxInFlight: number;
  /** Server connection pool (DB_POOL_SIZE, default 20, the server's own default). */
  dbPoolSize: number;
  scenarios: Scenario[];
  /** Write a V8 CPU profile of each server into this folder (BENCH_CPU_PROF=1 → bench/results/profiles). */
  cpuProfDir: string | undefined;
  repoRoot: string;
  resultsDir: string;
}

const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function listEnv<T extends string>(env: NodeJS.ProcessEnv, name: string, known: readonly T[], fallback: readonly T[] = known): T[] {
  const raw = env[name]?.trim();
  if (!raw) return [...fallback];
  const values = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const v of values) if (!known.includes(v as T)) throw new Error(`${name}: unknown value "${v}" (known: ${known.join(', ')})`);
  return known.filter((k) => values.includes(k));
}

export function loadOptions(env: NodeJS.ProcessEnv = process.env): SubscriptionBenchOptions {
  const seconds = numberEnv(env, 'BENCH_SECONDS', 20, 1, 3600);
  const subscriptions = Math.floor(numberEnv(env, 'BENCH_SUBSCRIPTIONS', 100, 1, 1000));
  const spreadCodes = Math.floor(numberEnv(env, 'BENCH_SPREAD_CODES', 10, 1, 10));
  const prof = env.BENCH_CPU_PROF?.trim();
  const resultsDir = path.join(BENCH_DIR, 'results');
  return {
    seconds,
    warmupSeconds: numberEnv(env, 'BENCH_WARMUP_SECONDS', 5, 0, 600),
    subscriptions,
    writeRate: numberEnv(env, 'BENCH_WRITE_RATE', 50, 0.1, 10_000),
    spreadCodes,
    writeClients: Math.floor(numberEnv(env, 'BENCH_WRITE_CLIENTS', 8, 1, 256)),
    costVariants: listEnv(env, 'BENCH_COST_VARIANTS', COST_VARIANTS, ['none', 'nomatch']),
    costRounds: Math.floor(numberEnv(env, 'BENCH_COST_ROUNDS', 2, 1, 100)),
    burstWrites: Math.floor(numberEnv(env, 'BENCH_BURST_WRITES', 100, 1, 100_000)),
    drainSeconds: numberEnv(env, 'BENCH_DRAIN_SECONDS', 20, 1, 3600),
    burstMaxSeconds: numberEnv(env, 'BENCH_BURST_MAX_SECONDS', 60, 1, 3600),
    pollMs: Math.floor(numberEnv(env, 'SUBSCRIPTION_POLL_MS', 50, 10, 60_000)),
    maxInFlight: Math.floor(numberEnv(env, 'SUBSCRIPTION_MAX_IN_FLIGHT', Math.max(128, subscriptions + 8), 1, 1000)),
    dbPoolSize: Math.floor(numberEnv(env, 'DB_POOL_SIZE', 20, 1, 1000)),
    scenarios: listEnv(env, 'BENCH_SCENARIOS', ALL_SCENARIOS),
    cpuProfDir: prof && prof !== '0' ? (prof === '1' ? path.join(resultsDir, 'profiles') : path.resolve(prof)) : undefined,
    repoRoot: path.dirname(BENCH_DIR),
    resultsDir,
  };
}
