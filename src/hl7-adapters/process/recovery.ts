/**
 * The recovery worker: applies messages that were stored but not applied — after a crash (the
 * process died between storing a message and applying it), a lost database connection, or a
 * reprocess request. Runs once at start and then every `intervalMs`; in several server processes
 * at once it is still safe, because Hl7Processor serialises per patient and skips done messages.
 * Only messages older than `graceMs` are taken, so it does not race the listener for fresh ones.
 */
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.ts';
import type { Hl7Processor } from './processor.ts';

export interface RecoveryOptions {
  pool: Pool;
  logger: Logger;
  processor: Hl7Processor;
  intervalMs: number;
  graceMs: number;
}

export class Hl7RecoveryWorker {
  readonly #options: RecoveryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: RecoveryOptions) {
    this.#options = options;
  }

  /** First pass at once and for messages of any age (nothing else is applying them yet). */
  start(): void {
    this.#stopped = false;
    this.#schedule(0, 0);
  }

  /** Runs a pass now over messages of any age (e.g. after a reprocess request). */
  nudge(): void {
    this.#schedule(0, 0);
  }

  /** Later passes take only messages older than `graceMs`, leaving fresh ones to the listener. */
  #schedule(delayMs: number, graceMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#pass(graceMs).finally(() => {
        this.#running = undefined;
        this.#schedule(this.#options.intervalMs, this.#options.graceMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  /** Applies every pending message older than `graceMs`, oldest first. Returns how many it applied. */
  async runOnce(graceMs = this.#options.graceMs): Promise<number> {
    let applied = 0;
    for (;;) {
      const batch = await this.#options.pool.query<{ id: string }>(
        `SELECT id FROM hl7_message WHERE status = 'received' AND received_at < now() - make_interval(secs => $1) ORDER BY id LIMIT 100`,
        [graceMs / 1000],
      );
      if (!batch.rows.length || this.#stopped) return applied;
      for (const { id } of batch.rows) {
        if (this.#stopped) return applied;
        await this.#options.processor.process(id);
        applied++;
      }
    }
  }

  async #pass(graceMs: number): Promise<void> {
    try {
      const applied = await this.runOnce(graceMs);
      if (applied) this.#options.logger.info({ applied }, 'applied pending HL7 messages');
    } catch (err) {
      this.#options.logger.warn({ err }, 'applying pending HL7 messages failed; will retry');
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }
}
