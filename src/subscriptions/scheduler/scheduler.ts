/**
 * Time-based work in the same store (issue 5): delayed jobs ("task due at 09:00") and recurring
 * ones (heartbeats, "no report in N days" checks). A job is a row of scheduled_job, so it survives
 * restarts; due jobs are claimed with FOR UPDATE SKIP LOCKED and a lease, so across server
 * processes each run happens once (a process that dies mid-run leaves a lease that expires, and the
 * run is made again: handlers must be idempotent). A recurring job keeps its cadence (a late run
 * does not shift it, missed runs are not repeated); a failing run is retried with backoff, and the
 * cadence continues from the successful retry.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../clock/clock.ts';
import type { Pool } from '../../db/pool.ts';
import { retryDelayMs } from '../engine/backoff.ts';

export interface Job {
  key: string;
  kind: string;
  payload: Record<string, unknown>;
  /** When it was due. */
  runAt: string;
  attempt: number;
}

export type JobHandler = (job: Job) => Promise<void>;

export interface ScheduleRequest {
  key: string;
  kind: string;
  runAt: Date;
  everySeconds?: number;
  payload?: Record<string, unknown>;
}

export interface SchedulerOptions {
  pool: Pool;
  logger: Logger;
  pollMs: number;
  /** How long a claimed run may take before another process may run it again. */
  leaseMs: number;
  retry?: { baseMs: number; maxMs: number };
  /**
   * A test clock (CAREBRIDGE_TEST_CLOCK): due times are compared with it instead of the
   * database's now(). Without one, PostgreSQL's clock is the one all server processes share.
   */
  clock?: Clock;
}

interface Row {
  key: string;
  kind: string;
  payload: Record<string, unknown>;
  run_at: string;
  every_seconds: number | null;
  attempts: number;
}

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #handlers = new Map<string, JobHandler>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Passes run one at a time in this process (the timer's and runAllDue's). */
  #pass: Promise<unknown> = Promise.resolve();
  /** Runs finished in this process (runAllDue reports those finished while it waited and worked). */
  #finished = 0;
  #stopped = true;

  constructor(options: SchedulerOptions) {
    this.#o = options;
  }

  /** The handler for a kind of job; only kinds with a handler are claimed by this process. */
  handle(kind: string, handler: JobHandler): void {
    if (this.#handlers.has(kind)) throw new Error(`a handler for ${kind} is registered already`);
    this.#handlers.set(kind, handler);
  }

  /** Schedules (or reschedules: same key) a job. */
  async schedule(request: ScheduleRequest): Promise<void> {
    if (request.everySeconds !== undefined && (!Number.isInteger(request.everySeconds) || request.everySeconds < 1)) throw new RangeError('everySeconds must be a positive integer');
    await this.#o.pool.query(
      `INSERT INTO scheduled_job (key, kind, payload, run_at, every_seconds) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, payload = EXCLUDED.payload, run_at = EXCLUDED.run_at,
              every_seconds = EXCLUDED.every_seconds, attempts = 0, last_error = NULL`,
      [request.key, request.kind, JSON.stringify(request.payload ?? {}), request.runAt.toISOString(), request.everySeconds ?? null],
    );
  }

  /** Removes a job; true when there was one. */
  async cancel(key: string): Promise<boolean> {
    return ((await this.#o.pool.query('DELETE FROM scheduled_job WHERE key = $1', [key])).rowCount ?? 0) > 0;
  }

  start(): void {
    this.#stopped = false;
    this.#next(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #next(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#serial(() => this.runDue())
        .catch((err: unknown) => this.#o.logger.warn({ err }, 'scheduler pass failed; will retry'))
        .then((ran) => this.#next(ran ? 0 : this.#o.pollMs));
    }, delayMs);
    this.#timer.unref();
  }

  #serial<T>(pass: () => Promise<T>): Promise<T> {
    const run = this.#pass.then(pass, pass);
    this.#pass = run.catch(() => undefined);
    return run;
  }

  /** The test clock's time as a query parameter, or null for the database's now(). */
  #now(): string | null {
    return this.#o.clock ? this.#o.clock.now().toISOString() : null;
  }

  /**
   * Runs every job that is due, including runs that become due while it works, after any pass in
   * progress in this process; returns how many runs finished meanwhile (the timer's pass it waited
   * for included). POST /admin/clock answers after this.
   */
  async runAllDue(): Promise<number> {
    const before = this.#finished;
    await this.#serial(async () => {
      while ((await this.runDue()) > 0);
    });
    return this.#finished - before;
  }

  /**
   * After a test clock was set back: a recurring job due later than one period from the new now
   * is brought back to now + its period, so its cadence continues from the clock's new time. Waits
   * for a pass in progress first: a run that finishes afterwards would otherwise miss its row (it
   * matches on the old run_at) and leave its lease, dated by the old clock, in place.
   */
  async clockMovedBack(): Promise<void> {
    await this.#serial(() =>
      this.#o.pool.query(
        `UPDATE scheduled_job SET run_at = $1::timestamptz + make_interval(secs => every_seconds)
          WHERE every_seconds IS NOT NULL AND run_at > $1::timestamptz + make_interval(secs => every_seconds)`,
        [this.#now() ?? new Date().toISOString()],
      ),
    );
  }

  /** Claims and runs the due jobs of the kinds this process handles; returns how many ran. */
  async runDue(limit = 20): Promise<number> {
    const kinds = [...this.#handlers.keys()];
    if (!kinds.length) return 0;
    const { rows } = await this.#o.pool.query<Row>(
      `UPDATE scheduled_job SET leased_until = coalesce($4::timestamptz, now()) + make_interval(secs => $2), attempts = attempts + 1
        WHERE key IN (
          SELECT key FROM scheduled_job
           WHERE run_at <= coalesce($4::timestamptz, now()) AND kind = ANY($1::text[]) AND (leased_until IS NULL OR leased_until < coalesce($4::timestamptz, now()))
           ORDER BY run_at LIMIT $3
           FOR UPDATE SKIP LOCKED)
        RETURNING key, kind, payload, to_json(run_at) #>> '{}' AS run_at, every_seconds, attempts`,
      [kinds, this.#o.leaseMs / 1000, limit, this.#now()],
    );
    await Promise.all(rows.map((row) => this.#run(row)));
    return rows.length;
  }

  async #run(row: Row): Promise<void> {
    const handler = this.#handlers.get(row.kind)!;
    try {
      await handler({ key: row.key, kind: row.kind, payload: row.payload, runAt: row.run_at, attempt: row.attempts });
      if (row.every_seconds) {
        // Next run on the job's cadence after now: a late or slow run does not shift the schedule.
        await this.#o.pool.query(
          `UPDATE scheduled_job
              SET run_at = run_at + make_interval(secs => every_seconds * (floor(extract(epoch FROM coalesce($3::timestamptz, now()) - run_at) / every_seconds) + 1)),
                  leased_until = NULL, attempts = 0, last_error = NULL
            WHERE key = $1 AND run_at = $2::timestamptz`,
          [row.key, row.run_at, this.#now()],
        );
      } else {
        // Deleted unless it was rescheduled meanwhile (a new run_at).
        await this.#o.pool.query('DELETE FROM scheduled_job WHERE key = $1 AND run_at = $2::timestamptz', [row.key, row.run_at]);
      }
      this.#finished++;
    } catch (err) {
      const delay = retryDelayMs(row.attempts, this.#o.retry ?? { baseMs: 1_000, maxMs: 10 * 60_000 });
      this.#o.logger.warn({ err, job: row.key, attempt: row.attempts, retryInMs: delay }, 'scheduled job failed');
      await this.#o.pool.query(
        `UPDATE scheduled_job SET run_at = coalesce($5::timestamptz, now()) + make_interval(secs => $3), leased_until = NULL, last_error = $4
          WHERE key = $1 AND run_at = $2::timestamptz`,
        [row.key, row.run_at, delay / 1000, (err as Error).message ?? String(err), this.#now()],
      );
    }
  }
}
