/**
 * Options of the follow-up benchmark, read once from the environment (documented in
 * bench/follow-up/RESULTS.md). They set the discharge rate and the phases' lengths, the rates of
 * the other load, and the server's settings; the whole object is echoed into the results JSON so
 * a run can be repeated exactly.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberEnv } from '../lib/format.ts';

export interface FollowUpBenchOptions {
  /** Open-loop ADT^A03 discharges per second (BENCH_DISCHARGE_RATE, default 20). */
  dischargeRate: number;
  /** Measured seconds of the phase under load (BENCH_SECONDS, default 60). */
  seconds: number;
  /** Unmeasured seconds before each phase's measured window, discharges and other load already running (BENCH_WARMUP_SECONDS, default 10). */
  warmupSeconds: number;
  /** Measured seconds of the baseline phase: the same discharges, no other load (BENCH_BASELINE_SECONDS, default 30). */
  baselineSeconds: number;
  /** Run the baseline phase (BENCH_BASELINE, default 1; 0 skips it). */
  baseline: boolean;
  /** ORU^R01 lab results per second over MLLP, for admitted patients (BENCH_ORU_RATE, default 10). */
  oruRate: number;
  /** Home readings per second, POST /fhir/Observation for discharged patients (BENCH_OBSERVATION_RATE, default 30). */
  observationRate: number;
  /** Clinician reads per second, worklist search and CarePlan reads alternating (BENCH_SEARCH_RATE, default 5). */
  searchRate: number;
  /** MLLP connections carrying the discharges (BENCH_MLLP_CONNECTIONS, default 4) and the lab results (BENCH_ORU_CONNECTIONS, default 2). */
  mllpConnections: number;
  oruConnections: number;
  /** After a phase's last discharge: longest wait for the CarePlans still missing (BENCH_DRAIN_SECONDS, default 30). */
  drainSeconds: number;
  /** An ACK (MLLP) or HTTP answer slower than this counts as an error (BENCH_TIMEOUT_SECONDS, default 30). */
  timeoutSeconds: number;
  /** Untimed discharges before the phases, then ANALYZE, so the phases meet current statistics (BENCH_PRIME_DISCHARGES, default 200; 0 skips). */
  primeDischarges: number;
  /** Extra admitted patients beyond the discharges (they get lab results and are never discharged) (BENCH_EXTRA_PATIENTS, default 200). */
  extraPatients: number;
  /** Seed of the message generator (BENCH_SEED, default 1). */
  seed: number;
  /** Server connection pool (DB_POOL_SIZE, default 20, the server's own default). */
  dbPoolSize: number;
  /** Passed to the server when set (SUBSCRIPTION_POLL_MS; unset = the server default, 200 ms). */
  subscriptionPollMs: number | undefined;
  /** Run the server from this folder instead of this checkout, e.g. a `git archive` of another commit (BENCH_SERVER_DIR). */
  serverDir: string;
  repoRoot: string;
  resultsDir: string;
}

const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export function loadOptions(env: NodeJS.ProcessEnv = process.env): FollowUpBenchOptions {
  const repoRoot = path.dirname(BENCH_DIR);
  const poll = env.SUBSCRIPTION_POLL_MS?.trim();
  return {
    dischargeRate: numberEnv(env, 'BENCH_DISCHARGE_RATE', 20, 0.1, 1000),
    seconds: numberEnv(env, 'BENCH_SECONDS', 60, 1, 3600),
    warmupSeconds: numberEnv(env, 'BENCH_WARMUP_SECONDS', 10, 0, 600),
    baselineSeconds: numberEnv(env, 'BENCH_BASELINE_SECONDS', 30, 1, 3600),
    baseline: env.BENCH_BASELINE?.trim() !== '0',
    oruRate: numberEnv(env, 'BENCH_ORU_RATE', 10, 0, 1000),
    observationRate: numberEnv(env, 'BENCH_OBSERVATION_RATE', 30, 0, 5000),
    searchRate: numberEnv(env, 'BENCH_SEARCH_RATE', 5, 0, 1000),
    mllpConnections: Math.floor(numberEnv(env, 'BENCH_MLLP_CONNECTIONS', 4, 1, 64)),
    oruConnections: Math.floor(numberEnv(env, 'BENCH_ORU_CONNECTIONS', 2, 1, 64)),
    drainSeconds: numberEnv(env, 'BENCH_DRAIN_SECONDS', 30, 1, 3600),
    timeoutSeconds: numberEnv(env, 'BENCH_TIMEOUT_SECONDS', 30, 1, 600),
    primeDischarges: Math.floor(numberEnv(env, 'BENCH_PRIME_DISCHARGES', 200, 0, 100_000)),
    extraPatients: Math.floor(numberEnv(env, 'BENCH_EXTRA_PATIENTS', 200, 1, 100_000)),
    seed: Math.floor(numberEnv(env, 'BENCH_SEED', 1, 0, 2 ** 31)),
    dbPoolSize: Math.floor(numberEnv(env, 'DB_POOL_SIZE', 20, 1, 1000)),
    subscriptionPollMs: poll ? Math.floor(numberEnv(env, 'SUBSCRIPTION_POLL_MS', 200, 10, 60_000)) : undefined,
    serverDir: env.BENCH_SERVER_DIR?.trim() ? path.resolve(env.BENCH_SERVER_DIR.trim()) : repoRoot,
    repoRoot,
    resultsDir: path.join(BENCH_DIR, 'results'),
  };
}

/** Discharges each phase sends (warm-up included): every one a different patient. */
export function dischargesPerPhase(o: FollowUpBenchOptions, measuredSeconds: number): number {
  return Math.ceil(o.dischargeRate * (o.warmupSeconds + measuredSeconds));
}
