/**
 * Recently read resource versions, for deliveries: when many subscriptions are notified of the same
 * write, its version is read from PostgreSQL once, not once per subscription. A version never
 * changes, so a cached one is never stale; the cache keeps the most recently used `capacity`
 * versions, and a failed read is not kept (the retry reads again).
 */
import type { FhirStore } from '../../fhir/index.ts';

export class VersionContentCache {
  readonly #store: FhirStore;
  readonly #capacity: number;
  readonly #entries = new Map<string, Promise<string | undefined>>();

  constructor(store: FhirStore, capacity = 2_000) {
    this.#store = store;
    this.#capacity = capacity;
  }

  /** The JSON of that version (undefined for a delete's tombstone). */
  read(type: string, id: string, version: number): Promise<string | undefined> {
    const key = `${type}/${id}/${version}`;
    const cached = this.#entries.get(key);
    if (cached) {
      // Most recently used last: Map keeps insertion order.
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    const reading = this.#store.vread(type, id, String(version)).then((v) => v.content ?? undefined);
    reading.catch(() => this.#entries.delete(key));
    this.#entries.set(key, reading);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
    return reading;
  }
}
