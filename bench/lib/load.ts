/**
 * Closed-loop load generation and latency statistics. Each of N clients issues one operation,
 * waits for it to finish and immediately issues the next, so N is the number of requests in
 * flight (the way a pool of application threads drives a server). After an unmeasured warm-up,
 * every operation that completes inside the fixed measurement window is counted and its latency
 * kept; percentiles are computed exactly by sorting those latencies (no HdrHistogram needed at
 * these volumes). `runWorkQueue` is the fixed-work variant used for bundle ingest.
 */

export interface LatencySummary {
  /** Milliseconds. */
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  concurrency: number;
  /** Operations that completed successfully inside the measurement window. */
  ops: number;
  /** Operations that failed inside the measurement window. */
  errors: number;
  firstError: string | undefined;
  /** Length of the measurement window. */
  seconds: number;
  /** Successful operations per second. */
  throughput: number;
  latencyMs: LatencySummary;
}

export interface ClosedLoopOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** One operation; `client` is 0…concurrency-1. Throws (or rejects) on failure. */
  op: (client: number) => Promise<void>;
  /** Called as the measurement window opens and closes (e.g. to sample CPU time). */
  onWindow?: (edge: 'start' | 'end') => void;
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(latencies: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    min: sorted.length ? (sorted[0] as number) : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A run whose every operation fails is not worth continuing (server down, wrong URL…). */
const MAX_CONSECUTIVE_ERRORS = 500;

export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
  let measureStart = 0;
  let measureEnd = 0;
  let errors = 0;
  let consecutiveErrors = 0;
  let firstError: string | undefined;
  let fatal: Error | undefined;

  const client = async (id: number): Promise<void> => {
    while (phase !== 'stop') {
      const started = performance.now();
      let failure: unknown;
      try {
        await options.op(id);
        consecutiveErrors = 0;
      } catch (err) {
        failure = err ?? new Error('operation failed');
        if (++consecutiveErrors >= MAX_CONSECUTIVE_ERRORS) {
          fatal = new Error(`${consecutiveErrors} operations failed in a row; last error: ${describe(err)}`);
          phase = 'stop';
        }
      }
      if (phase !== 'measure') continue; // warm-up, or completed after the window closed
      if (failure === undefined) latencies.push(performance.now() - started);
      else {
        errors++;
        firstError ??= describe(failure);
      }
    }
  };

  const warmup = setTimeout(() => {
    if (phase !== 'warmup') return;
    phase = 'measure';
    measureStart = performance.now();
    options.onWindow?.('start');
  }, options.warmupMs);
  const end = setTimeout(() => {
    if (phase === 'measure') {
      measureEnd = performance.now();
      options.onWindow?.('end');
    }
    phase = 'stop';
  }, options.warmupMs + options.durationMs);
  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, i) => client(i)));
  } finally {
    clearTimeout(warmup);
    clearTimeout(end);
  }
  if (fatal) throw fatal;
  const seconds = (measureEnd - measureStart) / 1000;
  return {
    concurrency: options.concurrency,
    ops: latencies.length,
    errors,
    firstError,
    seconds,
    throughput: seconds > 0 ? latencies.length / seconds : 0,
    latencyMs: summarize(latencies),
  };
}

export interface WorkQueueResult {
  concurrency: number;
  items: number;
  errors: number;
  firstError: string | undefined;
  seconds: number;
  /** Per-item latency (ms) of the successful items. */
  latencyMs: LatencySummary;
}

/** Processes every item once with `concurrency` workers pulling from a shared queue; timed from first start to last finish. */
export async function runWorkQueue<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<WorkQueueResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      const t0 = performance.now();
      try {
        await work(item);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= describe(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return { concurrency, items: items.length, errors, firstError, seconds: (performance.now() - started) / 1000, latencyMs: summarize(latencies) };
}

/** Latency percentiles where some operations never completed; those count as infinitely late. */
export interface LatencyWithMissing {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Over the completed ones only. */
  mean: number;
}

/**
 * Percentiles over `completed` latencies plus `missing` operations counted as +∞, so a p99 is
 * never flattered by leaving the slowest out.
 */
export function latencyWithMissing(completed: readonly number[], missing: number): LatencyWithMissing {
  const sorted = new Float64Array(completed.length + missing);
  sorted.set(completed);
  sorted.fill(Number.POSITIVE_INFINITY, completed.length);
  sorted.sort();
  const mean = completed.length ? completed.reduce((a, b) => a + b, 0) / completed.length : Number.NaN;
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN, mean };
}
