/**
 * Marks delivered notifications in batches: every delivery that completes while the previous
 * batch is being written joins the next one, so under load one statement records many deliveries
 * instead of one each. A delivery's subscription stays "in flight" until its mark is written (the
 * caller awaits it), so its next notification is never claimed before the last one is recorded;
 * a crash before the write means the notification is delivered again (at least once).
 */
import type { Pool } from '../../db/pool.ts';

interface Mark {
  subscriptionId: string;
  eventNumbers: string[];
  /** Record the time sent (heartbeats count from it). */
  touch: boolean;
  done: () => void;
  failed: (err: unknown) => void;
}

export class DeliveredMarks {
  readonly #pool: Pool;
  #queue: Mark[] = [];
  #writing = false;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  mark(subscriptionId: string, eventNumbers: string[], touch: boolean): Promise<void> {
    return new Promise<void>((done, failed) => {
      this.#queue.push({ subscriptionId, eventNumbers, touch, done, failed });
      if (!this.#writing) setImmediate(() => void this.#write());
    });
  }

  async #write(): Promise<void> {
    if (this.#writing || !this.#queue.length) return;
    this.#writing = true;
    const batch = this.#queue;
    this.#queue = [];
    try {
      const subscriptions = batch.flatMap((m) => m.eventNumbers.map(() => m.subscriptionId));
      const numbers = batch.flatMap((m) => m.eventNumbers);
      await this.#pool.query(
        `WITH marked AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS m(subscription_id, event_number)),
         done AS (
           UPDATE subscription_notification n SET status = 'delivered', delivered_at = now(), leased_until = NULL, last_error = NULL
             FROM marked WHERE n.subscription_id = marked.subscription_id AND n.event_number = marked.event_number
         )
         UPDATE subscription_state SET failing_since = NULL, last_sent_at = CASE WHEN subscription_id = ANY($4::text[]) THEN now() ELSE last_sent_at END, updated_at = now()
          WHERE subscription_id = ANY($3::text[]) AND (failing_since IS NOT NULL OR subscription_id = ANY($4::text[]))`,
        // The state row is written only when it changes meaning (recovering from failures, or the
        // time heartbeats count from): a row update per delivery would cost PostgreSQL dearly.
        [subscriptions, numbers, [...new Set(subscriptions)], [...new Set(batch.filter((m) => m.touch).map((m) => m.subscriptionId))]],
      );
      for (const m of batch) m.done();
    } catch (err) {
      for (const m of batch) m.failed(err);
    } finally {
      this.#writing = false;
      if (this.#queue.length) setImmediate(() => void this.#write());
    }
  }
}
