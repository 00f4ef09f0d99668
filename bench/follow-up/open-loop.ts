/**
 * Open-loop load: operation i is due at `start + i / rate` seconds, whether or not earlier ones
 * have finished, as independent hospitals, devices and clinicians would send them. A slow server
 * does not lower the offered rate. The only limit is `maxInFlight` (the MLLP connections of a
 * sender, each carrying one message until its ACK). When every slot is busy, the due operation
 * waits for the next free one, and the wait is recorded as lateness (started − due): the report
 * shows whether the schedule held. Every operation's due, start and end times (performance.now())
 * are kept; `loopStats` summarises any window of them.
 */
import { percentile, summarize } from '../lib/load.ts';
import type { LatencySummary } from '../lib/load.ts';

export interface OpRecord {
  /** Sequence number: the i-th operation of the loop. */
  i: number;
  /** When it was due, when it started, when it ended (performance.now(), ms). */
  at: number;
  started: number;
  done: number;
  error: string | undefined;
  /** The operation found nothing to do (e.g. no patient to act for yet): not sent, not counted. */
  skipped: boolean;
}

export interface OpenLoopOptions {
  /** Operations per second. */
  rate: number;
  /** performance.now() of operation 0 (several loops may share a time base). */
  start: number;
  /** Stop after this many operations (default: until `stop()`). */
  count?: number;
  maxInFlight: number;
  /** Operation i; throws (or rejects) on failure; resolves 'skipped' when it had nothing to do. */
  op: (i: number) => Promise<void | 'skipped'>;
}

export class OpenLoop {
  readonly records: OpRecord[] = [];
  readonly #o: OpenLoopOptions;
  readonly #running = new Set<Promise<void>>();
  #stopped = false;
  #wake: (() => void) | undefined;
  readonly #scheduler: Promise<void>;

  constructor(options: OpenLoopOptions) {
    this.#o = options;
    this.#scheduler = options.rate > 0 ? this.#schedule() : Promise.resolve();
  }

  /** Every operation has been started (a loop with `count`), or it was stopped. */
  get scheduled(): Promise<void> {
    return this.#scheduler;
  }

  async #schedule(): Promise<void> {
    const { rate, start, count, maxInFlight } = this.#o;
    for (let i = 0; !this.#stopped && (count === undefined || i < count); i++) {
      const at = start + (i * 1000) / rate;
      const wait = at - performance.now();
      if (wait > 0.5) await this.#sleep(wait);
      if (this.#stopped) break;
      while (this.#running.size >= maxInFlight && !this.#stopped) await Promise.race(this.#running);
      if (this.#stopped) break;
      this.#launch(i, at);
    }
  }

  /** A sleep that `stop()` cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #launch(i: number, at: number): void {
    const record: OpRecord = { i, at, started: performance.now(), done: Number.NaN, error: undefined, skipped: false };
    this.records.push(record);
    const running = this.#o.op(i).then(
      (outcome) => {
        record.done = performance.now();
        record.skipped = outcome === 'skipped';
      },
      (err: unknown) => {
        record.done = performance.now();
        record.error = err instanceof Error ? err.message : String(err);
      },
    );
    const tracked = running.finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /** Waits until every operation of a counted loop has finished. */
  async finished(): Promise<void> {
    await this.#scheduler;
    while (this.#running.size) await Promise.all(this.#running);
  }

  /** Starts nothing more; resolves when the operations in flight have finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.finished();
  }
}

export interface LoopStats {
  /** Operations due in the window (skipped ones left out). */
  offered: number;
  skipped: number;
  ok: number;
  errors: number;
  firstError: string | undefined;
  seconds: number;
  /** Successful operations per second of the window. */
  achievedRate: number;
  /** Started → ended, successful operations. */
  latencyMs: LatencySummary;
  /** Started − due: how late the schedule ran (0 when there was always a free slot). */
  latenessMs: { p50: number; p99: number; max: number };
  /** Operations started more than 100 ms after they were due. */
  lateOver100ms: number;
}

/** The operations due in [from, to) (performance.now() ms). */
export function loopStats(records: readonly OpRecord[], from: number, to: number): LoopStats {
  const due = records.filter((r) => r.at >= from && r.at < to);
  const inWindow = due.filter((r) => !r.skipped);
  const ok = inWindow.filter((r) => r.error === undefined && Number.isFinite(r.done));
  const failed = inWindow.filter((r) => r.error !== undefined);
  const lateness = Float64Array.from(inWindow.map((r) => Math.max(0, r.started - r.at))).sort();
  const seconds = (to - from) / 1000;
  return {
    offered: inWindow.length,
    skipped: due.length - inWindow.length,
    ok: ok.length,
    errors: failed.length,
    firstError: failed[0]?.error,
    seconds,
    achievedRate: seconds > 0 ? ok.length / seconds : 0,
    latencyMs: summarize(ok.map((r) => r.done - r.started)),
    latenessMs: { p50: percentile(lateness, 50), p99: percentile(lateness, 99), max: lateness.length ? (lateness[lateness.length - 1] as number) : Number.NaN },
    lateOver100ms: lateness.filter((l) => l > 100).length,
  };
}

/** Rejects when `work` takes longer than `ms` (the work itself is not cancelled). */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
