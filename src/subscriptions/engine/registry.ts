/**
 * The subscriptions the engine serves, read from the FHIR store, and their status lifecycle
 * (R4: requested → active | error, off by the client). A client creates a subscription as
 * `requested`; the engine checks it and sets `active`, or `error` with the reason in
 * Subscription.error; a client sets `requested` again to reactivate one in error, or `off`.
 * Status changes are written with If-Match, so a client's concurrent edit wins and is seen on the
 * next refresh. Refreshed whenever the dispatcher sees a Subscription written, and periodically.
 * A requested topic-based rest-hook subscription is activated only after its handshake succeeds
 * (else `error` at once, per the Backport IG); the handshake runs in the background, so a slow
 * endpoint delays nobody else.
 */
import type { Subscription } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { FhirError, isResourceType, searchAll, searchProblem } from '../../fhir/index.ts';
import type { FhirStore, StoredVersion } from '../../fhir/index.ts';
import { parseSubscription } from '../subscription-model.ts';
import type { InternalChannel, InternalOptions, ServedSubscription } from '../subscription-model.ts';

export class SubscriptionRegistry {
  readonly #store: FhirStore;
  readonly #logger: Logger;
  #byId = new Map<string, ServedSubscription>();
  /** The Subscription generation (subscriptionGeneration) the registry was loaded at. */
  #generation: string | undefined;

  readonly #allowEndpoints: readonly string[];
  #handshake: ((sub: ServedSubscription) => Promise<string | undefined>) | undefined;
  #onHandshakeDone: () => void = () => undefined;
  /** Subscriptions whose handshake this process is running. */
  readonly #handshaking = new Set<string>();

  constructor(store: FhirStore, logger: Logger, allowEndpoints: readonly string[] = []) {
    this.#store = store;
    this.#logger = logger;
    this.#allowEndpoints = allowEndpoints;
  }

  /** How requested topic-based rest-hook subscriptions are handshaken (and what to do after). */
  useHandshake(handshake: (sub: ServedSubscription) => Promise<string | undefined>, onDone: () => void): void {
    this.#handshake = handshake;
    this.#onHandshakeDone = onDone;
  }

  /** Whether Subscriptions changed (in any server process) since the registry was loaded. */
  isStale(generation: string): boolean {
    return generation !== this.#generation;
  }

  readonly #internal = new Map<string, ServedSubscription>();

  /**
   * Adds a subscriber inside CareBridge (e.g. the care-plan engine): always active, its events
   * numbered and delivered like any subscription's, to `handle` — at least once, in order.
   */
  addInternal(name: string, criteria: string, handle: InternalChannel['handle'], options: InternalOptions = {}): void {
    const parsed = parseSubscription(
      { resourceType: 'Subscription', id: `internal-${name}`, status: 'active', reason: name, criteria, channel: { type: 'rest-hook', endpoint: 'http://internal.invalid/' } },
      isResourceType,
      searchProblem,
    );
    if (!parsed.ok) throw new Error(`internal subscriber ${name}: ${parsed.problem}`);
    if (this.#internal.has(parsed.subscription.id)) throw new Error(`internal subscriber ${name} is registered twice`);
    this.#internal.set(parsed.subscription.id, { ...parsed.subscription, channel: { type: 'internal', handle, ...options } });
    this.#byId.set(parsed.subscription.id, this.#internal.get(parsed.subscription.id)!);
  }

  /** Subscriptions whose events are numbered and stored: active, or in error (replayable later). */
  receiving(): ServedSubscription[] {
    return [...this.#byId.values()].filter((s) => s.status === 'active' || s.status === 'error');
  }

  /** The subscription, when deliveries are attempted for it (status active). */
  active(id: string): ServedSubscription | undefined {
    const s = this.#byId.get(id);
    return s?.status === 'active' ? s : undefined;
  }

  activeIds(): string[] {
    return [...this.#byId.values()].filter((s) => s.status === 'active').map((s) => s.id);
  }

  /** Reloads the subscriptions; `generation` is read first, so a change during the load is seen later. */
  async refresh(generation: string): Promise<void> {
    const versions = await searchAll(this.#store, 'Subscription', new URLSearchParams({ status: 'requested,active,error' }));
    const next = new Map<string, ServedSubscription>(this.#internal);
    for (const version of versions) {
      const resource = JSON.parse(version.content as string) as Subscription;
      const parsed = parseSubscription(resource, isResourceType, searchProblem, this.#allowEndpoints);
      if (!parsed.ok) {
        if (resource.status !== 'error' || resource.error !== parsed.problem) await this.#setStatus(version, resource, 'error', parsed.problem);
        continue;
      }
      let sub = parsed.subscription;
      if (sub.status === 'requested' && sub.topic && sub.channel.type === 'rest-hook' && this.#handshake) {
        this.#startHandshake(sub, version, resource, this.#handshake);
        continue;
      }
      if (sub.status === 'requested') {
        if (!(await this.#setStatus(version, resource, 'active', undefined))) continue;
        sub = { ...sub, status: 'active' };
        this.#logger.info({ subscription: sub.id }, 'subscription activated');
      }
      next.set(sub.id, sub);
    }
    this.#byId = next;
    this.#generation = generation;
  }

  #startHandshake(sub: ServedSubscription, version: StoredVersion, resource: Subscription, handshake: (sub: ServedSubscription) => Promise<string | undefined>): void {
    if (this.#handshaking.has(sub.id)) return;
    this.#handshaking.add(sub.id);
    void (async () => {
      // A refresh that read the subscription before an earlier handshake recorded its outcome
      // still sees it requested: only the version it read may be handshaken (and only once).
      const current = await this.#store.read('Subscription', sub.id).catch(() => undefined);
      if (current?.versionId !== version.versionId) return;
      const problem = await handshake(sub);
      const written = await this.#setStatus(version, resource, problem ? 'error' : 'active', problem && `the handshake failed: ${problem}`);
      if (written) this.#logger.info({ subscription: sub.id, problem }, problem ? 'subscription handshake failed' : 'subscription activated after its handshake');
    })()
      .catch((err: unknown) => this.#logger.warn({ err, subscription: sub.id }, 'subscription handshake could not be recorded; retried at the next refresh'))
      .finally(() => {
        this.#handshaking.delete(sub.id);
        this.#onHandshakeDone();
      });
  }

  /** Puts a subscription in error (e.g. its retry horizon ran out); true when written. */
  async fail(id: string, reason: string): Promise<boolean> {
    let version: StoredVersion;
    try {
      version = await this.#store.read('Subscription', id);
    } catch {
      return false;
    }
    const resource = JSON.parse(version.content as string) as Subscription;
    if (resource.status !== 'active') return false;
    const written = await this.#setStatus(version, resource, 'error', reason);
    if (written) {
      const sub = this.#byId.get(id);
      if (sub) this.#byId.set(id, { ...sub, status: 'error' });
      this.#logger.warn({ subscription: id, reason }, 'subscription in error');
    }
    return written;
  }

  async #setStatus(version: StoredVersion, resource: Subscription, status: 'active' | 'error', error: string | undefined): Promise<boolean> {
    const { meta: _meta, error: _old, ...rest } = resource;
    const updated: Subscription = { ...rest, status, ...(error ? { error } : {}) };
    try {
      await this.#store.update(updated, { ifMatch: version.versionId });
      return true;
    } catch (err) {
      if (err instanceof FhirError) {
        // Changed meanwhile (If-Match) or gone: the next refresh sees the current version.
        this.#logger.debug({ err, subscription: resource.id }, 'subscription status not written');
        return false;
      }
      throw err;
    }
  }
}
