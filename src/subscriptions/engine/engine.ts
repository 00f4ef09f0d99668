/**
 * The subscription engine's loops: the dispatcher (outbox → numbered notifications), the
 * delivery worker, and the registry refresh (whenever Subscriptions changed, in this process or
 * another: the dispatcher checks before matching). Everything runs on PostgreSQL state, so any number of
 * server processes can run engines on one database (the dispatcher cursor is locked per pass,
 * deliveries are leased).
 */
import type http from 'node:http';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.ts';
import type { FhirStore } from '../../fhir/index.ts';
import { WebsocketHub } from '../channels/websocket.ts';
import { resolveBindingToken } from '../channels/ws-tokens.ts';
import { TopicSignals } from './signals.ts';
import { DeliveryWorker } from './delivery.ts';
import type { DeliveryOptions } from './delivery.ts';
import { dispatchOnce, subscriptionGeneration } from './dispatcher.ts';
import type { InternalChannel, InternalOptions } from '../subscription-model.ts';
import { SubscriptionRegistry } from './registry.ts';

export interface EngineOptions {
  pool: Pool;
  /** The application store (writes Subscription status changes, reads payloads). */
  store: FhirStore;
  logger: Logger;
  pollMs: number;
  timeoutMs: number;
  maxInFlight: number;
  retryHorizonSeconds: number;
  retry?: { baseMs: number; maxMs: number };
  observe?: DeliveryOptions['observe'];
  /** URL prefixes endpoints must start with (empty: any). */
  allowEndpoints?: readonly string[];
  /** Path of the classic websocket endpoint (e.g. /ws); attach() the engine to the HTTP server. */
  websocketPath?: string;
  /** The public FHIR base URL (references in notification Bundles); known once the server listens. */
  baseUrl: () => string;
}

const REFRESH_EVERY_MS = 30_000;
const HEARTBEAT_CHECK_MS = 1_000;
/**
 * Events per dispatch pass: up to 500, fewer the more notifications each event has been producing,
 * so that a pass (one transaction holding the cursor) stores ~5,000 notifications at most and
 * commits quickly. The dispatcher also cuts a pass short at that many (a sudden burst).
 */
const MAX_BATCH = 500;
const MAX_NOTIFICATIONS_PER_PASS = 5_000;

export class SubscriptionEngine {
  readonly #o: EngineOptions;
  readonly #registry: SubscriptionRegistry;
  readonly #delivery: DeliveryWorker;
  readonly #websockets: WebsocketHub | undefined;
  readonly #signals: TopicSignals;
  #lastHeartbeatCheck = 0;
  #stopped = true;
  #loop: Promise<void> | undefined;
  #deliveryLoop: Promise<void> | undefined;
  /** Moving average of notifications stored per event dispatched. */
  #fanOut = 1;
  readonly #dispatchWaker = new Waker();
  readonly #deliveryWaker = new Waker();
  #refreshNeeded = true;
  #lastRefresh = 0;

  constructor(options: EngineOptions) {
    this.#o = options;
    this.#registry = new SubscriptionRegistry(options.store, options.logger, options.allowEndpoints);
    this.#websockets = options.websocketPath
      ? new WebsocketHub({
          path: options.websocketPath,
          logger: options.logger,
          bindProblem: (id, byToken) => {
            const sub = this.#registry.active(id);
            if (!sub) return 'is not an active subscription';
            if (sub.channel.type !== 'websocket') return `has channel type ${sub.channel.type}, not websocket`;
            if (sub.topic && !byToken) return 'is topic-based: bind with a token from $get-ws-binding-token ("bind-with-token {token}")';
            if (!sub.topic && byToken) return 'is a classic subscription: bind with "bind {id}"';
            return undefined;
          },
          resolveToken: (token) => resolveBindingToken(options.pool, token),
          welcome: (id) => this.#signals.websocketHandshake(this.#registry.active(id)!),
          onBind: (id) => {
            // Pending notifications were backing off while nobody listened: due now.
            void this.#o.pool
              .query(`UPDATE subscription_notification SET next_attempt_at = now() WHERE subscription_id = $1 AND status = 'pending'`, [id])
              .then(() => this.#wakeDelivery(id), (err: unknown) => this.#o.logger.warn({ err }, 'rescheduling on bind failed'));
          },
        })
      : undefined;
    this.#delivery = new DeliveryWorker({
      websockets: this.#websockets,
      pool: options.pool,
      store: options.store,
      registry: this.#registry,
      logger: options.logger,
      timeoutMs: options.timeoutMs,
      maxInFlight: options.maxInFlight,
      retry: options.retry ?? { baseMs: 1_000, maxMs: 10 * 60_000 },
      retryHorizonSeconds: options.retryHorizonSeconds,
      observe: options.observe,
      onSettled: () => this.#deliveryWaker.wake(),
      sweepMs: options.pollMs,
      baseUrl: options.baseUrl,
    });
    this.#signals = new TopicSignals({ pool: options.pool, registry: this.#registry, logger: options.logger, baseUrl: options.baseUrl, timeoutMs: options.timeoutMs, websockets: this.#websockets });
    this.#registry.useHandshake(
      (sub) => this.#signals.handshake(sub),
      () => {
        this.#refreshNeeded = true;
        this.nudge();
        this.#deliveryWaker.wake();
      },
    );
  }

  /**
   * Registers a subscriber inside CareBridge: `criteria` is a search (`Encounter?status=finished`)
   * or a topic's canonical URL (its events: state changes, deletes where the topic has them; a
   * delete's event has no resource), `handle` runs for every matching write after registration — at least once, in order, retried
   * with backoff while it throws. Handlers must be idempotent by `event.eventId`. Call before start().
   * `options.concurrency` lets events of different `orderKey`s (default: the resource) run at once.
   */
  subscribe(name: string, criteria: string, handle: InternalChannel['handle'], options: InternalOptions = {}): void {
    if (!/^[A-Za-z0-9-]{1,50}$/.test(name)) throw new Error(`internal subscriber names are [A-Za-z0-9-]{1,50}, got "${name}"`);
    if (options.concurrency !== undefined && (!Number.isInteger(options.concurrency) || options.concurrency < 1 || options.concurrency > 64)) throw new RangeError('concurrency must be an integer from 1 to 64');
    this.#registry.addInternal(name, criteria, handle, options);
  }

  /** Serves the websocket channel on this HTTP server (upgrades on the websocket path). */
  attach(server: http.Server): void {
    this.#websockets?.attach(server);
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run(this.#dispatchWaker, () => this.#dispatchPass());
    this.#deliveryLoop = this.#run(this.#deliveryWaker, () => this.#deliveryPass());
  }

  /** Runs a dispatch pass now (after a write), instead of at the next poll. */
  nudge(): void {
    this.#dispatchWaker.wake();
  }

  /** Runs a delivery pass now, looking at `subscriptionId` (which may have notifications due). */
  #wakeDelivery(subscriptionId: string): void {
    this.#delivery.hint([subscriptionId]);
    this.#deliveryWaker.wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.nudge();
    this.#deliveryWaker.wake();
    await this.#loop;
    await this.#deliveryLoop;
    await this.#delivery.drain();
    this.#websockets?.close();
  }

  /** A loop that runs passes back to back while they find work, else sleeps until woken or the poll interval. */
  async #run(waker: Waker, pass: () => Promise<boolean>): Promise<void> {
    while (!this.#stopped) {
      let busy = false;
      try {
        busy = await pass();
      } catch (err) {
        this.#o.logger.warn({ err }, 'subscription engine pass failed; will retry');
      }
      if (this.#stopped) break;
      if (!busy) await waker.sleep(this.#o.pollMs);
    }
  }

  /** Delivery runs in its own loop: a subscription's next notification is claimed as soon as the last one settles. */
  async #deliveryPass(): Promise<boolean> {
    return (await this.#delivery.pass()) > 0;
  }

  /** One round: refresh the registry if due, dispatch a batch, heartbeats. True when there was work. */
  async #dispatchPass(): Promise<boolean> {
    if (this.#refreshNeeded || Date.now() - this.#lastRefresh > REFRESH_EVERY_MS) {
      await this.#registry.refresh(await subscriptionGeneration(this.#o.pool));
      this.#refreshNeeded = false;
      this.#lastRefresh = Date.now();
    }
    // Sized by the recent fan-out (notifications per event), not by the number of subscriptions:
    // 100 subscriptions that match nothing must not shrink passes, whose fixed cost is paid per pass.
    const batch = Math.max(10, Math.min(MAX_BATCH, Math.floor(MAX_NOTIFICATIONS_PER_PASS / Math.max(1, this.#fanOut))));
    const dispatched = await dispatchOnce(this.#o.pool, this.#o.store, this.#registry, this.#o.logger, batch, MAX_NOTIFICATIONS_PER_PASS);
    if (dispatched.events > 0) this.#fanOut = 0.5 * this.#fanOut + 0.5 * (dispatched.notifications / dispatched.events);
    if (dispatched.subscriptionsChanged) this.#refreshNeeded = true;
    if (dispatched.notified.length) {
      this.#delivery.hint(dispatched.notified);
      this.#deliveryWaker.wake();
    }
    if (Date.now() - this.#lastHeartbeatCheck >= HEARTBEAT_CHECK_MS) {
      this.#lastHeartbeatCheck = Date.now();
      await this.#signals.heartbeats();
    }
    return dispatched.events > 0 || dispatched.subscriptionsChanged;
  }
}

/** Sleeps until woken or a timeout; a wake while awake is remembered, so none is lost. */
class Waker {
  #pending = false;
  #resolve: (() => void) | undefined;

  wake(): void {
    if (this.#resolve) this.#resolve();
    else this.#pending = true;
  }

  async sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#resolve = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#resolve = done;
    });
  }
}
