/**
 * The notifications of topic-based subscriptions that carry no event (R5 Backport IG):
 *
 * - the handshake — POSTed when a rest-hook subscription is requested (a failure puts it in
 *   `error` at once; the client reactivates it by setting `requested`), sent first to a websocket
 *   client that binds with a token;
 * - heartbeats — when nothing was sent to a subscription for its `backport-heartbeat-period`. Due
 *   heartbeats are claimed in one UPDATE of `subscription_state.last_sent_at`, so across server
 *   processes each is sent once; a websocket subscription's go where a client is bound.
 */
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.ts';
import { postNotification } from '../channels/rest-hook.ts';
import { notificationBundle } from '../notifications/notification-bundle.ts';
import type { NotificationType } from '../notifications/notification-bundle.ts';
import type { ServedSubscription } from '../subscription-model.ts';
import type { SubscriptionRegistry } from './registry.ts';

export interface SignalOptions {
  pool: Pool;
  registry: SubscriptionRegistry;
  logger: Logger;
  baseUrl: () => string;
  timeoutMs: number;
  websockets?: { has(id: string): boolean; send(id: string, text: string): Promise<number> } | undefined;
}

export class TopicSignals {
  readonly #o: SignalOptions;
  readonly #sending = new Set<string>();

  constructor(options: SignalOptions) {
    this.#o = options;
  }

  /** A handshake or heartbeat Bundle (JSON text) for the subscription. */
  async bundle(sub: ServedSubscription, type: NotificationType, status: 'requested' | 'active', eventsSinceStart?: string): Promise<string> {
    const count = eventsSinceStart ?? (await this.#o.pool.query<{ n: string }>('SELECT events_since_start::text AS n FROM subscription_state WHERE subscription_id = $1', [sub.id])).rows[0]?.n ?? '0';
    return JSON.stringify(
      notificationBundle({ baseUrl: this.#o.baseUrl(), subscriptionId: sub.id, topicUrl: sub.topic?.topic.url, status, type, eventsSinceStart: count, events: [], content: 'empty' }),
    );
  }

  /** Records that something was sent now (heartbeats count from here). */
  async sent(id: string): Promise<void> {
    await this.#o.pool.query(
      `INSERT INTO subscription_state (subscription_id, last_sent_at) VALUES ($1, now())
       ON CONFLICT (subscription_id) DO UPDATE SET last_sent_at = now(), updated_at = now()`,
      [id],
    );
  }

  /** POSTs the handshake of a requested rest-hook subscription; the reason it failed, or undefined. */
  async handshake(sub: ServedSubscription): Promise<string | undefined> {
    if (sub.channel.type !== 'rest-hook') return undefined;
    try {
      await postNotification(sub.channel, sub.secret, await this.bundle(sub, 'handshake', 'requested'), this.#timeout(sub));
      await this.sent(sub.id);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** The handshake a websocket client gets when it binds with a token. */
  async websocketHandshake(sub: ServedSubscription): Promise<string> {
    const text = await this.bundle(sub, 'handshake', 'active');
    await this.sent(sub.id);
    return text;
  }

  /** Sends the heartbeats that are due (one query; the sends run in the background). */
  async heartbeats(): Promise<void> {
    const due = this.#o.registry
      .activeIds()
      .map((id) => this.#o.registry.active(id)!)
      .filter((s) => s.topic?.heartbeatSeconds && !this.#sending.has(s.id) && (s.channel.type === 'rest-hook' || (s.channel.type === 'websocket' && this.#o.websockets?.has(s.id))));
    if (!due.length) return;
    const { rows } = await this.#o.pool.query<{ subscription_id: string; n: string }>(
      `UPDATE subscription_state s SET last_sent_at = now()
         FROM unnest($1::text[], $2::float8[]) AS h(id, secs)
        WHERE s.subscription_id = h.id AND s.last_sent_at IS NOT NULL AND s.last_sent_at <= now() - make_interval(secs => h.secs)
       RETURNING s.subscription_id, s.events_since_start::text AS n`,
      [due.map((s) => s.id), due.map((s) => s.topic!.heartbeatSeconds)],
    );
    for (const row of rows) {
      const sub = due.find((s) => s.id === row.subscription_id)!;
      this.#sending.add(sub.id);
      void this.#heartbeat(sub, row.n)
        .catch((err: unknown) => this.#o.logger.info({ err, subscription: sub.id }, 'subscription heartbeat could not be sent'))
        .finally(() => this.#sending.delete(sub.id));
    }
  }

  async #heartbeat(sub: ServedSubscription, eventsSinceStart: string): Promise<void> {
    const text = await this.bundle(sub, 'heartbeat', 'active', eventsSinceStart);
    if (sub.channel.type === 'rest-hook') await postNotification(sub.channel, sub.secret, text, this.#timeout(sub));
    else if (sub.channel.type === 'websocket') await this.#o.websockets?.send(sub.id, text);
  }

  #timeout(sub: ServedSubscription): number {
    return sub.topic?.timeoutSeconds ? sub.topic.timeoutSeconds * 1000 : this.#o.timeoutMs;
  }
}
