/**
 * The subscription engine's queues seen from its own tables (a read-only connection to the
 * server's embedded PostgreSQL), once a second during a phase: notifications stored but not yet
 * handled, per subscriber. A growing `internal-discharge-follow-up` queue means the follow-up
 * engine cannot keep up with the discharge rate. A growing `internal-observation-follow-up` queue
 * (alerts, missed reports, re-grading) means the other load is what falls behind. Over the whole
 * phase, per subscriber: notifications stored and handled per second (arrivals against service),
 * and for one subscriber the gap between successive deliveries while it had work queued,
 * delivered_at − max(stored, previous event delivered): 1000 / that is its rate while busy (it
 * handles up to 4 order keys at once, so a single event may take longer than the gap).
 * After the run, the message log's outcome per message type.
 */
import type pg from 'pg';

export interface QueueSummary {
  /** Subscriber → the most notifications it had pending in any sample, and at the last sample. */
  maxPending: Record<string, number>;
  endPending: Record<string, number>;
  /** Subscriber → notifications stored (created) and handled (delivered) per second while the discharges were being sent. */
  storedPerSecond: Record<string, number>;
  handledPerSecond: Record<string, number>;
  seconds: number;
  samples: Array<{ t: number; pending: Record<string, number> }>;
}

export class QueueSampler {
  readonly #db: pg.Pool;
  readonly #started = performance.now();
  readonly #samples: QueueSummary['samples'] = [];
  readonly #timer: NodeJS.Timeout;
  /** The database's clock when sampling started (the notifications' timestamps are on it). */
  readonly #since: Promise<string | undefined>;
  #busy: Promise<void> | undefined;
  #until: Promise<string | undefined> | undefined;

  constructor(db: pg.Pool, intervalMs = 1000) {
    this.#db = db;
    this.#since = db.query<{ t: string }>('SELECT clock_timestamp()::text AS t').then((r) => r.rows[0]?.t, () => undefined);
    this.#timer = setInterval(() => void this.#sample(), intervalMs);
  }

  /** Start of the sampling, on the database's clock. */
  since(): Promise<string | undefined> {
    return this.#since;
  }

  /** Ends the window of the stored and handled rates (the last discharge was sent); sampling goes on. */
  endRateWindow(): void {
    this.#until ??= this.#db.query<{ t: string }>('SELECT clock_timestamp()::text AS t').then((r) => r.rows[0]?.t, () => undefined);
  }

  #sample(): Promise<void> {
    this.#busy ??= (async () => {
      try {
        const { rows } = await this.#db.query<{ subscription_id: string; n: number }>(
          `SELECT subscription_id, count(*)::int AS n FROM subscription_notification WHERE status = 'pending' GROUP BY subscription_id`,
        );
        this.#samples.push({ t: Math.round((performance.now() - this.#started) / 100) / 10, pending: Object.fromEntries(rows.map((r) => [r.subscription_id, r.n])) });
      } catch {
        // the server may be stopping; a missing sample is not worth failing the run
      } finally {
        this.#busy = undefined;
      }
    })();
    return this.#busy;
  }

  async stop(): Promise<QueueSummary> {
    clearInterval(this.#timer);
    await this.#busy;
    await this.#sample();
    const maxPending: Record<string, number> = {};
    for (const s of this.#samples) for (const [id, n] of Object.entries(s.pending)) maxPending[id] = Math.max(maxPending[id] ?? 0, n);
    const last = this.#samples[this.#samples.length - 1]?.pending ?? {};
    const endPending = Object.fromEntries(Object.keys(maxPending).map((id) => [id, last[id] ?? 0]));
    const storedPerSecond: Record<string, number> = {};
    const handledPerSecond: Record<string, number> = {};
    let seconds = 0;
    const since = await this.#since;
    this.endRateWindow();
    const until = await this.#until;
    if (since && until) {
      const rates = await this.#db
        .query<{ subscription_id: string; stored: number; handled: number; seconds: number }>(
          `SELECT subscription_id, count(*) FILTER (WHERE created_at >= $1 AND created_at < $2)::int AS stored,
                  count(*) FILTER (WHERE delivered_at >= $1 AND delivered_at < $2)::int AS handled,
                  extract(epoch FROM $2::timestamptz - $1::timestamptz)::float8 AS seconds
             FROM subscription_notification WHERE (created_at >= $1 AND created_at < $2) OR (delivered_at >= $1 AND delivered_at < $2) GROUP BY subscription_id`,
          [since, until],
        )
        .catch(() => ({ rows: [] }));
      for (const r of rates.rows) {
        seconds = r.seconds;
        storedPerSecond[r.subscription_id] = r.stored / r.seconds;
        handledPerSecond[r.subscription_id] = r.handled / r.seconds;
      }
    }
    return { maxPending, endPending, storedPerSecond, handledPerSecond, seconds, samples: this.#samples };
  }
}

/** One subscriber's time per event without the queue wait (ms), over the events it handled since `since`. */
export async function serviceTimes(db: pg.Pool, subscriptionId: string, since: string): Promise<{ events: number; p50: number; p90: number; p99: number; mean: number } | undefined> {
  const { rows } = await db.query<{ events: number; q: number[] | null; mean: number | null }>(
    `WITH handled AS (
       SELECT delivered_at, created_at, lag(delivered_at) OVER (ORDER BY event_number) AS previous
         FROM subscription_notification WHERE subscription_id = $1 AND status = 'delivered' AND delivered_at >= $2)
     SELECT count(*)::int AS events,
            percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - greatest(created_at, previous)) * 1000) AS q,
            avg(extract(epoch FROM delivered_at - greatest(created_at, previous)) * 1000)::float8 AS mean
       FROM handled WHERE previous IS NOT NULL`,
    [subscriptionId, since],
  );
  const row = rows[0];
  if (!row?.events || !row.q) return undefined;
  return { events: row.events, p50: Number(row.q[0]), p90: Number(row.q[1]), p99: Number(row.q[2]), mean: Number(row.mean) };
}

/** Messages in the log per type and status, e.g. `ADT^A03 processed` → 1,400. */
export async function messageLogCounts(db: pg.Pool): Promise<Array<{ type: string; status: string; count: number }>> {
  const { rows } = await db.query<{ type: string; status: string; count: number }>(
    `SELECT coalesce(message_type, '?') || '^' || coalesce(trigger_event, '?') AS type, status, count(*)::int AS count
       FROM hl7_message GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return rows;
}

/**
 * Waits (at most `limitMs`) until no notification is pending, of one subscriber or of all: a
 * phase starts on a quiet engine. Returns how long it took and what was still pending.
 */
export async function waitForQueues(db: pg.Pool, limitMs: number, subscriptionId?: string): Promise<{ seconds: number; pending: number }> {
  const started = performance.now();
  for (;;) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM subscription_notification WHERE status = 'pending' AND ($1::text IS NULL OR subscription_id = $1)`,
      [subscriptionId ?? null],
    );
    const pending = rows[0]?.n ?? 0;
    const seconds = (performance.now() - started) / 1000;
    if (!pending || seconds * 1000 >= limitMs) return { seconds, pending };
    await new Promise((r) => setTimeout(r, 250));
  }
}
