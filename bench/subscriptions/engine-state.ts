/**
 * The engine seen from its own tables (read-only, through a separate connection to the server's
 * embedded PostgreSQL), to say where a slow notification waited:
 *
 * - backlog, sampled every 500 ms: outbox events not yet dispatched (after the dispatch cursor)
 *   and notifications stored but not yet delivered — the first growing means matching is the
 *   bottleneck, the second means delivery is — and the server's sessions waiting on a lock, with
 *   the statement that waits most often;
 * - per notification, after a run: write → stored as a notification (fhir_event.occurred_at →
 *   subscription_notification.created_at, the dispatch pass's transaction start) and stored →
 *   delivered (created_at → delivered_at, recorded after the subscriber's 200); and whether any
 *   (subscription, event) was stored more than once, with how many dispatch passes did it.
 */
import type pg from 'pg';

export interface BacklogSample {
  /** Seconds since sampling started. */
  t: number;
  undispatchedEvents: number;
  pendingNotifications: number;
  /** Server sessions waiting on a lock. */
  lockWaits: number;
}

export interface BacklogSummary {
  maxUndispatchedEvents: number;
  maxPendingNotifications: number;
  /** The last sample (when sampling stopped). */
  endUndispatchedEvents: number;
  endPendingNotifications: number;
  /** Mean and max sessions waiting on a lock over the samples. */
  meanLockWaits: number;
  maxLockWaits: number;
  /** Statements seen waiting on a lock (first 90 characters) and in how many samples, most frequent first. */
  lockWaiters: Array<{ statement: string; samples: number }>;
  samples: BacklogSample[];
}

const BACKLOG_SQL = `
  SELECT (SELECT count(*) FROM fhir_event e, subscription_dispatch_cursor c WHERE (e.transaction_id, e.event_id) > (c.transaction_id, c.event_id))::int AS undispatched,
         (SELECT count(*) FROM subscription_notification WHERE status = 'pending')::int AS pending,
         (SELECT coalesce(json_agg(left(regexp_replace(query, '\\s+', ' ', 'g'), 90)), '[]') FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()) AS waiting`;

export class BacklogSampler {
  readonly #db: pg.Pool;
  readonly #samples: BacklogSample[] = [];
  readonly #waiters = new Map<string, number>();
  readonly #started = performance.now();
  readonly #timer: NodeJS.Timeout;
  #busy = false;

  constructor(db: pg.Pool, intervalMs = 500) {
    this.#db = db;
    this.#timer = setInterval(() => void this.sample(), intervalMs);
  }

  async sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const { rows } = await this.#db.query<{ undispatched: number; pending: number; waiting: string[] }>(BACKLOG_SQL);
      const row = rows[0];
      if (!row) return;
      this.#samples.push({ t: Math.round((performance.now() - this.#started) / 100) / 10, undispatchedEvents: row.undispatched, pendingNotifications: row.pending, lockWaits: row.waiting.length });
      for (const statement of new Set(row.waiting)) this.#waiters.set(statement, (this.#waiters.get(statement) ?? 0) + 1);
    } catch {
      // the server may be stopping; a missing sample is not worth failing the run
    } finally {
      this.#busy = false;
    }
  }

  async stop(): Promise<BacklogSummary> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 10));
    await this.sample();
    const s = this.#samples;
    const last = s[s.length - 1];
    return {
      maxUndispatchedEvents: Math.max(0, ...s.map((x) => x.undispatchedEvents)),
      maxPendingNotifications: Math.max(0, ...s.map((x) => x.pendingNotifications)),
      endUndispatchedEvents: last?.undispatchedEvents ?? 0,
      endPendingNotifications: last?.pendingNotifications ?? 0,
      meanLockWaits: s.length ? s.reduce((a, x) => a + x.lockWaits, 0) / s.length : 0,
      maxLockWaits: Math.max(0, ...s.map((x) => x.lockWaits)),
      lockWaiters: [...this.#waiters].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([statement, samples]) => ({ statement, samples })),
      samples: s,
    };
  }
}

export interface StageBreakdown {
  /** Notifications of the given subscriptions and resources that the server recorded as delivered. */
  delivered: number;
  /** …and stored but still pending when the run ended. */
  pending: number;
  /** Write (outbox occurred_at) → notification stored, ms. */
  dispatchMs: { p50: number; p99: number; max: number } | undefined;
  /** Notification stored → delivered (claimed, resource read, PUT answered, recorded), ms. */
  deliveryMs: { p50: number; p99: number; max: number } | undefined;
  /** Notifications that needed more than one attempt. */
  retried: number;
  /** Dispatch passes that stored these notifications (distinct created_at: one transaction each), and the seconds from the first to the last. */
  dispatchPasses: number;
  dispatchSpanSeconds: number;
  /** Rows beyond one per (subscription, event); 0 when every event was numbered once per subscription. */
  duplicateRows: number;
  /** When there are duplicates: the (subscription, event) pairs stored more than once, the most copies of one, and how many dispatch passes (distinct created_at) stored them. */
  duplicates: { pairs: number; maxCopies: number; dispatchPasses: number; examples: DuplicateExample[] } | undefined;
}

/** One event stored more than once for a subscription, for whoever debugs the dispatcher. */
export interface DuplicateExample {
  eventId: string;
  transactionId: string;
  occurredAt: string;
  /** Subscriptions that got this event more than once. */
  subscriptions: number;
  /** For one of them: each copy's event number and dispatch pass (created_at = that transaction's start). */
  copies: Array<{ eventNumber: string; createdAt: string; status: string }>;
}

export async function stageBreakdown(db: pg.Pool, subscriptionIds: readonly string[], resourceIds: readonly string[]): Promise<StageBreakdown> {
  const { rows } = await db.query<{ delivered: number; pending: number; dispatch: number[] | null; delivery: number[] | null; retried: number; passes: number; span: number | null }>(
    `SELECT count(*) FILTER (WHERE n.status = 'delivered')::int AS delivered,
            count(DISTINCT n.created_at)::int AS passes, extract(epoch FROM max(n.created_at) - min(n.created_at))::float8 AS span,
            count(*) FILTER (WHERE n.status = 'pending')::int AS pending,
            percentile_cont(ARRAY[0.5, 0.99, 1]) WITHIN GROUP (ORDER BY extract(epoch FROM n.created_at - e.occurred_at) * 1000) AS dispatch,
            percentile_cont(ARRAY[0.5, 0.99, 1]) WITHIN GROUP (ORDER BY extract(epoch FROM n.delivered_at - n.created_at) * 1000) FILTER (WHERE n.status = 'delivered') AS delivery,
            count(*) FILTER (WHERE n.attempts > 1)::int AS retried
       FROM subscription_notification n JOIN fhir_event e ON e.event_id = n.event_id
      WHERE n.subscription_id = ANY($1::text[]) AND n.resource_id = ANY($2::text[])`,
    [subscriptionIds, resourceIds],
  );
  const row = rows[0];
  const triple = (v: number[] | null | undefined) => (v && v.length === 3 ? { p50: Number(v[0]), p99: Number(v[1]), max: Number(v[2]) } : undefined);
  const dup = (
    await db.query<{ rows: number; pairs: number; max_copies: number | null; passes: number }>(
      `WITH mine AS (SELECT subscription_id, event_id, created_at FROM subscription_notification WHERE subscription_id = ANY($1::text[]) AND resource_id = ANY($2::text[])),
            copies AS (SELECT subscription_id, event_id, count(*) AS c FROM mine GROUP BY 1, 2 HAVING count(*) > 1)
       SELECT (SELECT count(*) FROM mine)::int - (SELECT count(*) FROM (SELECT DISTINCT subscription_id, event_id FROM mine) d)::int AS rows,
              (SELECT count(*) FROM copies)::int AS pairs, (SELECT max(c) FROM copies)::int AS max_copies,
              (SELECT count(DISTINCT m.created_at) FROM mine m JOIN copies USING (subscription_id, event_id))::int AS passes`,
      [subscriptionIds, resourceIds],
    )
  ).rows[0];
  const examples = dup && dup.rows > 0 ? await duplicateExamples(db, subscriptionIds, resourceIds).catch(() => []) : [];
  return {
    delivered: row?.delivered ?? 0,
    pending: row?.pending ?? 0,
    dispatchMs: triple(row?.dispatch),
    deliveryMs: triple(row?.delivery),
    retried: row?.retried ?? 0,
    dispatchPasses: row?.passes ?? 0,
    dispatchSpanSeconds: row?.span ?? 0,
    duplicateRows: dup?.rows ?? 0,
    duplicates: dup && dup.rows > 0 ? { pairs: dup.pairs, maxCopies: dup.max_copies ?? 0, dispatchPasses: dup.passes, examples } : undefined,
  };
}

async function duplicateExamples(db: pg.Pool, subscriptionIds: readonly string[], resourceIds: readonly string[]): Promise<DuplicateExample[]> {
  const { rows } = await db.query<DuplicateExample>(
    `WITH pairs AS (
       SELECT n.subscription_id, n.event_id,
              json_agg(json_build_object('eventNumber', n.event_number::text, 'createdAt', n.created_at::text, 'status', n.status) ORDER BY n.event_number) AS copies
         FROM subscription_notification n
        WHERE n.subscription_id = ANY($1::text[]) AND n.resource_id = ANY($2::text[])
        GROUP BY 1, 2 HAVING count(*) > 1)
     SELECT p.event_id::text AS "eventId", e.transaction_id::text AS "transactionId", e.occurred_at::text AS "occurredAt",
            (SELECT count(*) FROM pairs q WHERE q.event_id = p.event_id)::int AS subscriptions, (array_agg(p.copies))[1] AS copies
       FROM pairs p JOIN fhir_event e ON e.event_id = p.event_id
      GROUP BY p.event_id, e.transaction_id, e.occurred_at
      ORDER BY p.event_id LIMIT 10`,
    [subscriptionIds, resourceIds],
  );
  return rows;
}
