/**
 * The dispatcher: turns outbox events (fhir_event, written in the same transaction as every
 * resource write) into numbered notifications, one pass per database transaction:
 *
 * 1. lock the cursor row (dispatchers on several server processes take turns) and read the next
 *    events from transactions that have all finished (`transaction_id` below the oldest
 *    transaction still running, FINISHED_HORIZON), in (transaction id, event id) order — so an
 *    event committed late by a long transaction is never skipped, and each event is read once;
 * 2. match them against every subscription that receives events: one query per distinct
 *    criteria, its filters AND `_id` = the batch's ids of that type, ids only
 *    (FhirStore.matchingIds) — the search engine's own semantics;
 * 3. give each match the subscription's next event number (gap-free, monotonic) and store it;
 * 4. move the cursor. All in one commit: a crash repeats the pass, never half of it.
 *
 * Classic criteria match the resource as it is at dispatch time (normally milliseconds after the
 * write); deletes are not matched — an R4 criteria search cannot match a deleted resource.
 * Topic-based subscriptions are matched on the versions of the write itself (topics/trigger.ts:
 * the topic's interactions and state change, then the subscriber's filters), deletes included
 * where the topic has them. A subscription receives the events written after it was created (and
 * while it is not off).
 */
import type { Logger } from 'pino';
import { withTransaction } from '../../db/pool.ts';
import type { Pool, PoolClient } from '../../db/pool.ts';
import { isRetryable, matchingIds } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';
import type { Resource } from '@medplum/fhirtypes';
import type { ServedSubscription, TopicBinding } from '../subscription-model.ts';
import { isTopicEvent, passesFilters } from '../topics/trigger.ts';
import type { VersionPair } from '../topics/trigger.ts';
import type { Interaction } from '../topics/catalog.ts';
import type { SubscriptionRegistry } from './registry.ts';

interface EventRow {
  event_id: string;
  resource_type: string;
  resource_id: string;
  version_id: number;
  interaction: string;
  transaction_id: string;
  occurred_at: string;
}


/**
 * The oldest transaction id that may still commit outbox events: the oldest one running, like
 * pg_snapshot_xmin, but not counting autovacuum workers — an autovacuum ANALYZE holds an xid for
 * seconds on a big search table (it writes pg_statistic) yet never writes an event, and waiting
 * for it stalled every notification (seen as 2–5 s spikes under load). Where the database role
 * cannot see other sessions' xids (pg_stat_activity needs pg_read_all_stats), nothing is left out
 * and this is pg_snapshot_xmin exactly.
 */
const FINISHED_HORIZON = `(SELECT coalesce(
      (SELECT min(running) FROM pg_snapshot_xip(snap) AS running
        WHERE xid(running) NOT IN (SELECT backend_xid FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND backend_xid IS NOT NULL)),
      pg_snapshot_xmax(snap))
    FROM pg_current_snapshot() AS snap)`;
export interface DispatchResult {
  events: number;
  notifications: number;
  /** The subscriptions given notifications by this pass. */
  notified: string[];
  /** Whether a Subscription resource was written (the registry must be refreshed). */
  subscriptionsChanged: boolean;
}

/**
 * One pass over at most `batchSize` events. A pass stores at most `maxNotifications` rows (beyond
 * the first event's own): when the batch matches more, it ends early and the cursor stops at the
 * last event it kept, so one burst cannot turn into a transaction of tens of thousands of rows.
 */
export async function dispatchOnce(
  pool: Pool,
  store: FhirStore,
  registry: SubscriptionRegistry,
  logger: Logger,
  batchSize: number,
  maxNotifications = Number.POSITIVE_INFINITY,
): Promise<DispatchResult> {
  return withTransaction(
    pool,
    async (client) => {
      const cursor = (await client.query<{ transaction_id: string; event_id: string }>({ name: 'cb_dispatch_lock_cursor', text: 'SELECT transaction_id::text, event_id::text FROM subscription_dispatch_cursor FOR UPDATE' })).rows[0]!;
      // Another server process may have changed Subscriptions (and moved the cursor past those
      // writes): match nothing with a registry older than the data.
      if (registry.isStale(await subscriptionGeneration(client))) return { events: 0, notifications: 0, notified: [], subscriptionsChanged: true };
      if (!registry.receiving().length) return skipAhead(client, cursor);
      // Unnamed, like the delivery claims: planned for the cursor's actual position each time (a
      // generic plan does not know that the range starts near the end of fhir_event).
      const { rows: read } = await client.query<EventRow>(
        `SELECT event_id::text, resource_type, resource_id, version_id, interaction, transaction_id::text, occurred_at::text
           FROM fhir_event
          WHERE (transaction_id, event_id) > ($1::xid8, $2::bigint) AND transaction_id < ${FINISHED_HORIZON}
          ORDER BY fhir_event.transaction_id, fhir_event.event_id -- the columns, not the ::text outputs of the same name
          LIMIT $3`,
        [cursor.transaction_id, cursor.event_id, batchSize],
      );
      // A pass ends with the first Subscription write: events after it are matched once the
      // registry has seen that write (a new subscription receives what happens after it).
      const cut = read.findIndex((e) => e.resource_type === 'Subscription');
      const events = cut < 0 ? read : read.slice(0, cut + 1);
      if (!events.length) return { events: 0, notifications: 0, notified: [], subscriptionsChanged: false };
      const subscriptionsChanged = cut >= 0;
      const versions = new VersionCache(store);
      const matched = new Map<string, EventRow[]>();
      const own = async (sub: ServedSubscription) => {
        const start = await startPosition(client, sub.id);
        return start ? events.filter((e) => isAfter(e, start)) : events;
      };
      // Subscriptions with the same criteria share one search (e.g. 100 apps on one code: 1 query).
      const groups = new Map<string, ServedSubscription[]>();
      for (const sub of registry.receiving()) {
        if (sub.topic) {
          matched.set(sub.id, await matchTopic(sub, sub.topic, await own(sub), versions, logger));
          continue;
        }
        const key = `${sub.criteria.resourceType}?${new URLSearchParams([...sub.criteria.params].sort(([x], [y]) => x.localeCompare(y))).toString()}`;
        groups.set(key, [...(groups.get(key) ?? []), sub]);
      }
      for (const subs of groups.values()) {
        const { resourceType, params: criteria } = subs[0]!.criteria;
        const candidates = events.filter((e) => e.resource_type === resourceType && e.interaction !== 'delete');
        if (!candidates.length) continue;
        const ids = [...new Set(candidates.map((e) => e.resource_id))];
        const params = new URLSearchParams(criteria);
        params.append('_id', ids.join(','));
        let matching: Set<string>;
        try {
          matching = await matchingIds(store, resourceType, params);
        } catch (err) {
          logger.warn({ err, subscriptions: subs.map((s) => s.id) }, 'subscription criteria could not be evaluated; events skipped');
          continue;
        }
        if (!matching.size) continue;
        for (const sub of subs) {
          const mine = new Set(await own(sub));
          matched.set(sub.id, candidates.filter((e) => matching.has(e.resource_id) && mine.has(e)));
        }
      }
      const kept = keepWithin(events, matched, maxNotifications);
      const notifications = await storeNotifications(client, matched);
      const last = events[kept - 1]!;
      await client.query({ name: 'cb_dispatch_move_cursor', text: 'UPDATE subscription_dispatch_cursor SET transaction_id = $1::xid8, event_id = $2::bigint', values: [last.transaction_id, last.event_id] });
      const notified = [...matched].filter(([, list]) => list.length).map(([id]) => id);
      return { events: kept, notifications, notified, subscriptionsChanged: subscriptionsChanged && kept === events.length };
    },
    { retryIf: isRetryable, attempts: 5 },
  );
}

/**
 * How many of the batch's events fit in `limit` notifications (at least one); drops the matches
 * of the events after them from `matched`, which they are taken out of in place.
 */
function keepWithin(events: readonly EventRow[], matched: Map<string, EventRow[]>, limit: number): number {
  const perEvent = new Map<EventRow, number>();
  for (const list of matched.values()) for (const e of list) perEvent.set(e, (perEvent.get(e) ?? 0) + 1);
  let total = 0;
  let kept = 0;
  for (const e of events) {
    total += perEvent.get(e) ?? 0;
    if (kept > 0 && total > limit) break;
    kept++;
  }
  if (kept < events.length) {
    const keptEvents = new Set(events.slice(0, kept));
    for (const [id, list] of matched) matched.set(id, list.filter((e) => keptEvents.has(e)));
  }
  return kept;
}

type Position = readonly [transactionId: bigint, eventId: bigint];
const startPositions = new Map<string, Position | null>();

/**
 * Where a subscription starts: the outbox position of its creation. Events before it are never
 * its own, even when the dispatcher is behind and the registry already knows the subscription.
 * Internal subscribers have no creation event (null: everything since the server started them).
 */
async function startPosition(client: PoolClient, subscriptionId: string): Promise<Position | null> {
  const known = startPositions.get(subscriptionId);
  if (known !== undefined) return known;
  const { rows } = await client.query<{ x: string; e: string }>(
    `SELECT transaction_id::text AS x, event_id::text AS e FROM fhir_event
      WHERE resource_type = 'Subscription' AND resource_id = $1 AND interaction = 'create'
      ORDER BY transaction_id DESC, event_id DESC LIMIT 1`,
    [subscriptionId],
  );
  const position: Position | null = rows[0] ? [BigInt(rows[0].x), BigInt(rows[0].e)] : null;
  startPositions.set(subscriptionId, position);
  return position;
}

function isAfter(event: EventRow, [transactionId, eventId]: Position): boolean {
  const x = BigInt(event.transaction_id);
  return x > transactionId || (x === transactionId && BigInt(event.event_id) > eventId);
}

/** The versions of the batch's writes, each read once per pass however many subscriptions ask. */
class VersionCache {
  readonly #store: FhirStore;
  readonly #read = new Map<string, Promise<Resource | undefined>>();

  constructor(store: FhirStore) {
    this.#store = store;
  }

  /** The resource in that version; undefined when there is none (before the first, or a delete). */
  get(type: string, id: string, version: number): Promise<Resource | undefined> {
    if (version < 1) return Promise.resolve(undefined);
    const key = `${type}/${id}/${version}`;
    let found = this.#read.get(key);
    if (!found) {
      found = this.#store.vread(type, id, String(version)).then(
        (v) => (v.content ? (JSON.parse(v.content) as Resource) : undefined),
        () => undefined, // deleted (a tombstone) or gone
      );
      this.#read.set(key, found);
    }
    return found;
  }

  async pair(event: EventRow): Promise<VersionPair> {
    const interaction = event.interaction as Interaction;
    const current = interaction === 'delete' ? undefined : await this.get(event.resource_type, event.resource_id, event.version_id);
    const previous = interaction === 'create' ? undefined : await this.get(event.resource_type, event.resource_id, event.version_id - 1);
    return { interaction, previous, current };
  }
}

/** The batch's events that are events of the subscription's topic and pass its filters. */
async function matchTopic(sub: ServedSubscription, binding: TopicBinding, events: EventRow[], versions: VersionCache, logger: Logger): Promise<EventRow[]> {
  const matched: EventRow[] = [];
  for (const event of events) {
    if (event.resource_type !== binding.topic.resourceType || !binding.topic.interactions.includes(event.interaction as Interaction)) continue;
    try {
      const write = await versions.pair(event);
      if (isTopicEvent(binding.topic, write) && passesFilters(binding.filters, write)) matched.push(event);
    } catch (err) {
      logger.warn({ err, subscription: sub.id, event: event.event_id }, 'topic filters could not be evaluated; event skipped');
    }
  }
  return matched;
}

/**
 * Numbers every subscription's matched events (the next numbers of its counter: one statement for
 * all counters) and stores them (one statement for all rows). Returns how many were stored.
 */
async function storeNotifications(client: PoolClient, matched: ReadonlyMap<string, EventRow[]>): Promise<number> {
  const entries = [...matched].filter(([, events]) => events.length);
  if (!entries.length) return 0;
  const { rows } = await client.query<{ subscription_id: string; events_since_start: string }>({
    name: 'cb_dispatch_count_events',
    text: `INSERT INTO subscription_state (subscription_id, events_since_start) SELECT * FROM unnest($1::text[], $2::bigint[])
     ON CONFLICT (subscription_id) DO UPDATE SET events_since_start = subscription_state.events_since_start + EXCLUDED.events_since_start, updated_at = now()
     RETURNING subscription_id, events_since_start::text`,
    values: [entries.map(([id]) => id), entries.map(([, events]) => events.length)],
  });
  const counters = new Map(rows.map((r) => [r.subscription_id, BigInt(r.events_since_start)]));
  const columns = { s: [] as string[], n: [] as string[], e: [] as string[], t: [] as string[], i: [] as string[], v: [] as number[], a: [] as string[], o: [] as string[] };
  for (const [id, events] of entries) {
    const first = counters.get(id)! - BigInt(events.length) + 1n;
    events.forEach((event, k) => {
      columns.s.push(id);
      columns.n.push(String(first + BigInt(k)));
      columns.e.push(event.event_id);
      columns.t.push(event.resource_type);
      columns.i.push(event.resource_id);
      columns.v.push(event.version_id);
      columns.a.push(event.interaction);
      columns.o.push(event.occurred_at);
    });
  }
  await client.query({
    name: 'cb_dispatch_store_notifications',
    text: `INSERT INTO subscription_notification (subscription_id, event_number, event_id, resource_type, resource_id, version_id, interaction, occurred_at)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[])`,
    values: [columns.s, columns.n, columns.e, columns.t, columns.i, columns.v, columns.a, columns.o],
  });
  return columns.s.length;
}

/**
 * With no subscription receiving events there is nothing to match: the cursor jumps over the
 * finished events in one statement (bulk loads cost the engine nothing) — but never past a
 * Subscription write, which must reach the registry before later events are passed over.
 */
async function skipAhead(client: PoolClient, cursor: { transaction_id: string; event_id: string }): Promise<DispatchResult> {
  const { rows } = await client.query<{ transaction_id: string; event_id: string; subscription: boolean }>(
    `WITH finished AS (SELECT ${FINISHED_HORIZON} AS xmin),
          first_subscription AS (
            SELECT transaction_id, event_id, true AS subscription FROM fhir_event, finished
             WHERE resource_type = 'Subscription' AND (transaction_id, event_id) > ($1::xid8, $2::bigint) AND transaction_id < finished.xmin
             ORDER BY transaction_id, event_id LIMIT 1),
          last_event AS (
            SELECT transaction_id, event_id, false AS subscription FROM fhir_event, finished
             WHERE (transaction_id, event_id) > ($1::xid8, $2::bigint) AND transaction_id < finished.xmin
             ORDER BY transaction_id DESC, event_id DESC LIMIT 1)
     SELECT transaction_id::text, event_id::text, subscription FROM (SELECT * FROM first_subscription UNION ALL SELECT * FROM last_event) x
      ORDER BY subscription DESC LIMIT 1`,
    [cursor.transaction_id, cursor.event_id],
  );
  const to = rows[0];
  if (!to) return { events: 0, notifications: 0, notified: [], subscriptionsChanged: false };
  await client.query('UPDATE subscription_dispatch_cursor SET transaction_id = $1::xid8, event_id = $2::bigint', [to.transaction_id, to.event_id]);
  return { events: to.subscription ? 1 : 0, notifications: 0, notified: [], subscriptionsChanged: to.subscription };
}

/** Changes whenever any Subscription is created, updated or deleted (count and latest write). */
export async function subscriptionGeneration(db: Pick<PoolClient, 'query'>): Promise<string> {
  const { rows } = await db.query<{ g: string }>({
    name: 'cb_subscription_generation',
    text: `SELECT count(*)::text || '@' || coalesce(max(last_updated)::text, '') AS g FROM fhir_resource WHERE resource_type = 'Subscription'`,
  });
  return rows[0]!.g;
}
