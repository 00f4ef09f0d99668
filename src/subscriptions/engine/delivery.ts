/**
 * Delivery: at-least-once, in event-number order per subscription, and no subscription waits for
 * another. Each pass claims the head (lowest pending event number) of every active subscription
 * that is due and not already being delivered — a lease on the row, so workers on several server
 * processes never attempt the same notification at once — and starts those deliveries without
 * waiting for them: a hanging endpoint holds only its own subscription (and one of `maxInFlight`
 * slots) until its timeout. A failure schedules the next attempt with exponential backoff and
 * jitter; once a subscription has been failing longer than its retry horizon it goes to `error`
 * (its notifications stay stored and numbered; reactivating it resumes delivery in order). A
 * process that dies mid-delivery leaves a lease that expires: the attempt is made again.
 */
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.ts';
import type { FhirStore } from '../../fhir/index.ts';
import { deliverRestHook, postNotification } from '../channels/rest-hook.ts';
import { loadEvents, NOTIFICATION_COLUMNS } from '../notifications/events.ts';
import type { NotificationRow } from '../notifications/events.ts';
import { notificationBundle } from '../notifications/notification-bundle.ts';
import type { InternalChannel, InternalEvent, ServedSubscription, TopicBinding } from '../subscription-model.ts';
import { retryDelayMs } from './backoff.ts';
import type { SubscriptionRegistry } from './registry.ts';
import { DeliveredMarks } from './delivered-marks.ts';
import { VersionContentCache } from './version-cache.ts';

export interface DeliveryOptions {
  pool: Pool;
  store: FhirStore;
  registry: SubscriptionRegistry;
  logger: Logger;
  timeoutMs: number;
  maxInFlight: number;
  retry: { baseMs: number; maxMs: number };
  /** Server default retry horizon (seconds); a subscription's extension overrides it. */
  retryHorizonSeconds: number;
  observe?: (event: { subscription: string; ok: boolean; seconds: number }) => void;
  /** Bound websocket clients of this process (websocket subscriptions are delivered only where one is bound). */
  websockets?: { has(id: string): boolean; ping(id: string): Promise<number>; send(id: string, text: string): Promise<number> };
  /** The public FHIR base URL (references in notification Bundles); known once the server listens. */
  baseUrl: () => string;
  /** Called when a delivery attempt ends (the subscription's next notification may be due). */
  onSettled?: () => void;
  /**
   * How often a pass looks at every active subscription (retries come due, another server
   * process stored notifications, a client bound); in between, only at hinted ones.
   */
  sweepMs: number;
}

interface Claimed extends NotificationRow {
  subscription_id: string;
  event_id: string;
  attempts: number;
}

export class DeliveryWorker {
  readonly #o: DeliveryOptions;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #versions: VersionContentCache;
  readonly #marks: DeliveredMarks;
  /** Subscriptions that may have a notification due: given some by dispatch, or just delivered one. */
  readonly #hinted = new Set<string>();
  #lastSweep = 0;

  constructor(options: DeliveryOptions) {
    this.#o = options;
    this.#versions = new VersionContentCache(options.store);
    this.#marks = new DeliveredMarks(options.pool);
  }

  /** Marks subscriptions to look at in the next pass (they were given notifications). */
  hint(subscriptionIds: Iterable<string>): void {
    for (const id of subscriptionIds) this.#hinted.add(id);
  }

  /**
   * Claims due heads and starts delivering them; returns how many were started. Looks at the
   * hinted subscriptions, and at every active one once per `sweepMs`: with many idle
   * subscriptions, probing all of them after every delivery would cost more than the deliveries.
   */
  async pass(): Promise<number> {
    const room = this.#o.maxInFlight - this.#inFlight.size;
    if (room <= 0) return 0;
    const sweep = Date.now() - this.#lastSweep >= this.#o.sweepMs;
    if (sweep) this.#lastSweep = Date.now();
    const candidates = sweep ? this.#o.registry.activeIds() : [...this.#hinted];
    const active = candidates.filter((id) => {
      const sub = this.#o.registry.active(id);
      return sub && !this.#inFlight.has(id) && (sub.channel.type !== 'websocket' || this.#o.websockets?.has(id));
    });
    if (!active.length) {
      this.#hinted.clear();
      return 0;
    }
    // Long enough to outlive an attempt; short enough that a crashed process's claims come back soon.
    const timeouts = active.map((id) => (this.#o.registry.active(id)?.topic?.timeoutSeconds ?? 0) * 1000);
    const leaseSeconds = (Math.max(this.#o.timeoutMs, ...timeouts) + 5_000) / 1000;
    const { rows } = await this.#o.pool.query<Claimed>(
      // Each subscription's head is one index probe (a LATERAL LIMIT 1), however long its backlog.
      `WITH due AS (
         SELECT s.id AS subscription_id, head.event_number
           FROM unnest($1::text[]) AS s(id)
           CROSS JOIN LATERAL (
             SELECT event_number, next_attempt_at FROM subscription_notification
              WHERE subscription_id = s.id AND status = 'pending' ORDER BY event_number LIMIT 1
           ) head
          WHERE head.next_attempt_at <= now()
          LIMIT $2
       )
       UPDATE subscription_notification n
          SET leased_until = now() + make_interval(secs => $3), attempts = n.attempts + 1
         FROM due
        WHERE n.subscription_id = due.subscription_id AND n.event_number = due.event_number
          AND n.status = 'pending' AND (n.leased_until IS NULL OR n.leased_until < now())
        RETURNING n.subscription_id, n.event_id::text, n.attempts, n.event_number::text, n.resource_type, n.resource_id, n.version_id, n.interaction,
                  to_char(coalesce(n.occurred_at, n.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS timestamp`,
      [active, room, leaseSeconds],
    );
    // Looked at and nothing claimable: not due (backing off), nothing pending, or leased by another
    // process. The next sweep looks again. When the room limit cut the claim short, keep them all.
    if (rows.length < room) {
      const claimed = new Set(rows.map((r) => r.subscription_id));
      for (const id of candidates) if (!claimed.has(id)) this.#hinted.delete(id);
    }
    for (const row of rows) {
      const running = this.#deliver(row)
        .catch((err: unknown) => this.#o.logger.error({ err, subscription: row.subscription_id }, 'recording a delivery outcome failed; the lease will expire and it is retried'))
        .finally(() => {
          this.#inFlight.delete(row.subscription_id);
          this.#hinted.add(row.subscription_id); // its next notification may be pending
          this.#o.onSettled?.();
        });
      this.#inFlight.set(row.subscription_id, running);
    }
    return rows.length;
  }

  /** Waits for the deliveries in flight (shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #deliver(row: Claimed): Promise<void> {
    const sub = this.#o.registry.active(row.subscription_id);
    if (!sub) {
      await this.#release(row);
      return;
    }
    const started = performance.now();
    let delivered = [row.event_number];
    try {
      const channel = sub.channel;
      const content = () => this.#versions.read(row.resource_type, row.resource_id, row.version_id);
      if (channel.type === 'internal' && (channel.concurrency ?? 1) > 1) {
        await this.#deliverInternalBatch(sub, channel, row, started);
        return;
      } else if (channel.type === 'internal') {
        await channel.handle(await this.#internalEvent(sub, row));
      } else if (sub.topic) {
        delivered = await this.#deliverTopic(sub, sub.topic, row);
      } else if (channel.type === 'websocket') {
        if (!this.#o.websockets || (await this.#o.websockets.ping(sub.id)) === 0) throw new Error('no websocket client is bound to this subscription');
      } else {
        const body = channel.payload === undefined ? undefined : await content();
        await deliverRestHook({ channel, secret: sub.secret, resourceType: row.resource_type, resourceId: row.resource_id, body }, this.#o.timeoutMs);
      }
      await this.#marks.mark(row.subscription_id, delivered, sub.topic?.heartbeatSeconds !== undefined);
      this.#o.observe?.({ subscription: row.subscription_id, ok: true, seconds: (performance.now() - started) / 1000 });
    } catch (err) {
      this.#o.observe?.({ subscription: row.subscription_id, ok: false, seconds: (performance.now() - started) / 1000 });
      await this.#recordFailure(sub, row, err);
    }
  }

  /** The event an internal subscriber is handed (a delete, which a topic may have, has no resource). */
  async #internalEvent(sub: ServedSubscription, row: Claimed): Promise<InternalEvent> {
    const body = row.interaction === 'delete' ? undefined : await this.#versions.read(row.resource_type, row.resource_id, row.version_id);
    return {
      subscriber: sub.id, eventNumber: Number(row.event_number), eventId: row.event_id, resourceType: row.resource_type, resourceId: row.resource_id,
      versionId: row.version_id, interaction: row.interaction, resource: body === undefined ? undefined : JSON.parse(body),
    };
  }

  /**
   * An internal subscriber with concurrency: the claimed head and the pending events after it (in
   * order, as far as they are due; up to 4 × concurrency), handled `concurrency` order keys at a
   * time, each key's events one after another in event order. A failure retries that event with
   * backoff and gives the key's later events back untried — it is the subscription's lowest
   * pending event now, so nothing of that key overtakes it; events of other keys are done. A
   * subscriber with handleGroup gets each key's events in one call (a failure: the same, from the
   * key's first event).
   */
  async #deliverInternalBatch(sub: ServedSubscription, channel: InternalChannel, head: Claimed, started: number): Promise<void> {
    const concurrency = channel.concurrency ?? 1;
    const leaseSeconds = (this.#o.timeoutMs * 4 + 5_000) / 1000;
    const { rows: more } = await this.#o.pool.query<Claimed>(
      `WITH next AS (
         SELECT event_number, bool_and(next_attempt_at <= now()) OVER (ORDER BY event_number) AS due
           FROM (SELECT event_number, next_attempt_at FROM subscription_notification
                  WHERE subscription_id = $1 AND status = 'pending' AND event_number > $2::bigint
                  ORDER BY event_number LIMIT $3) pending
       )
       UPDATE subscription_notification n
          SET leased_until = now() + make_interval(secs => $4), attempts = n.attempts + 1
        -- The claimed rows as an array: index probes. Joined to the CTE instead, the planner (which
        -- sees few pending rows in its statistics) walked every pending row of the subscription
        -- for each claim — slower the longer the backlog.
        WHERE n.subscription_id = $1 AND n.event_number = ANY (ARRAY(SELECT event_number FROM next WHERE due))
          AND n.status = 'pending' AND (n.leased_until IS NULL OR n.leased_until < now())
        RETURNING n.subscription_id, n.event_id::text, n.attempts, n.event_number::text, n.resource_type, n.resource_id, n.version_id, n.interaction,
                  to_char(coalesce(n.occurred_at, n.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS timestamp`,
      [sub.id, head.event_number, concurrency * 4 - 1, leaseSeconds],
    );
    const rows = [head, ...more.sort((a, b) => Number(a.event_number) - Number(b.event_number))];
    const groups = new Map<string, Array<{ row: Claimed; event: InternalEvent }>>();
    // The versions are read side by side (each once, through the version cache), then grouped.
    const events = await Promise.all(rows.map(async (row) => ({ row, event: await this.#internalEvent(sub, row) })));
    for (const { row, event } of events) {
      const key = channel.orderKey?.(event) ?? `${row.resource_type}/${row.resource_id}`;
      groups.set(key, [...(groups.get(key) ?? []), { row, event }]);
    }
    const delivered: string[] = [];
    const queue = [...groups.values()];
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let group = queue.shift(); group; group = queue.shift()) {
        if (channel.handleGroup) {
          const t0 = performance.now();
          try {
            await channel.handleGroup(group.map((g) => g.event));
            delivered.push(...group.map((g) => g.row.event_number));
            for (const _ of group) this.#o.observe?.({ subscription: sub.id, ok: true, seconds: (performance.now() - t0) / 1000 / group.length });
          } catch (err) {
            this.#o.observe?.({ subscription: sub.id, ok: false, seconds: (performance.now() - t0) / 1000 });
            await this.#recordFailure(sub, group[0]!.row, err);
            for (const later of group.slice(1)) await this.#release(later.row);
          }
          continue;
        }
        for (const [i, { row, event }] of group.entries()) {
          const t0 = performance.now();
          try {
            await channel.handle(event);
            delivered.push(row.event_number);
            this.#o.observe?.({ subscription: sub.id, ok: true, seconds: (performance.now() - t0) / 1000 });
          } catch (err) {
            this.#o.observe?.({ subscription: sub.id, ok: false, seconds: (performance.now() - t0) / 1000 });
            await this.#recordFailure(sub, row, err);
            for (const later of group.slice(i + 1)) await this.#release(later.row);
            break;
          }
        }
      }
    }));
    if (delivered.length) await this.#marks.mark(sub.id, delivered, false);
    this.#o.logger.debug({ subscription: sub.id, events: rows.length, delivered: delivered.length, ms: Math.round(performance.now() - started) }, 'internal batch handled');
  }

  /** A failed attempt: the next one after a backoff; past the retry horizon, the subscription goes to error. */
  async #recordFailure(sub: ServedSubscription, row: Claimed, err: unknown): Promise<void> {
    const reason = (err as Error).message;
    const delayMs = retryDelayMs(row.attempts, this.#o.retry);
    const { rows } = await this.#o.pool.query<{ failing_for: number }>(
      `WITH retry AS (
         UPDATE subscription_notification SET leased_until = NULL, last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
          WHERE subscription_id = $1 AND event_number = $2::bigint
       )
       UPDATE subscription_state SET failing_since = COALESCE(failing_since, now()), updated_at = now()
        WHERE subscription_id = $1
        RETURNING extract(epoch FROM now() - failing_since)::float8 AS failing_for`,
      [row.subscription_id, row.event_number, reason, delayMs / 1000],
    );
    const horizon = sub.retryHorizonSeconds ?? this.#o.retryHorizonSeconds;
    const failingFor = rows[0]?.failing_for ?? 0;
    this.#o.logger.info({ subscription: row.subscription_id, eventNumber: row.event_number, attempt: row.attempts, reason, retryInMs: delayMs }, 'subscription delivery failed');
    if (failingFor >= horizon && (await this.#o.registry.fail(row.subscription_id, `notifications could not be delivered for ${Math.round(failingFor)} s (retry horizon ${horizon} s); last error: ${reason}`))) {
      // When the client reactivates it (status requested), delivery resumes at once with a fresh horizon.
      await this.#o.pool.query(
        `WITH again AS (UPDATE subscription_notification SET next_attempt_at = now() WHERE subscription_id = $1 AND status = 'pending')
         UPDATE subscription_state SET failing_since = NULL, updated_at = now() WHERE subscription_id = $1`,
        [row.subscription_id],
      );
    }
  }

  /**
   * A topic-based subscription's notification: the claimed head and the pending events after it,
   * up to backport-max-count, in one Bundle (POSTed, or sent over the bound websockets). Returns
   * the event numbers it carried.
   */
  async #deliverTopic(sub: ServedSubscription, binding: TopicBinding, head: Claimed): Promise<string[]> {
    const more =
      binding.maxCount > 1
        ? (
            await this.#o.pool.query<NotificationRow>(
              `SELECT ${NOTIFICATION_COLUMNS} FROM subscription_notification
                WHERE subscription_id = $1 AND status = 'pending' AND event_number > $2::bigint ORDER BY subscription_notification.event_number LIMIT $3`,
              [sub.id, head.event_number, binding.maxCount - 1],
            )
          ).rows
        : [];
    const rows = [head, ...more];
    const count = (await this.#o.pool.query<{ n: string }>('SELECT events_since_start::text AS n FROM subscription_state WHERE subscription_id = $1', [sub.id])).rows[0]?.n ?? '0';
    const events = await loadEvents(this.#o.store, rows, binding, binding.content);
    const bundle = JSON.stringify(
      notificationBundle({ baseUrl: this.#o.baseUrl(), subscriptionId: sub.id, topicUrl: binding.topic.url, status: 'active', type: 'event-notification', eventsSinceStart: count, events, content: binding.content }),
    );
    if (sub.channel.type === 'websocket') {
      if (!this.#o.websockets || (await this.#o.websockets.send(sub.id, bundle)) === 0) throw new Error('no websocket client is bound to this subscription');
    } else if (sub.channel.type === 'rest-hook') {
      await postNotification(sub.channel, sub.secret, bundle, binding.timeoutSeconds ? binding.timeoutSeconds * 1000 : this.#o.timeoutMs);
    } else {
      throw new Error(`channel ${sub.channel.type} cannot carry topic notifications`);
    }
    return rows.map((r) => r.event_number);
  }

  /** Gives a claimed notification back untried (its subscription is no longer active). */
  async #release(row: Claimed): Promise<void> {
    await this.#o.pool.query(
      'UPDATE subscription_notification SET leased_until = NULL, attempts = attempts - 1 WHERE subscription_id = $1 AND event_number = $2::bigint',
      [row.subscription_id, row.event_number],
    );
  }
}
