/**
 * Recently read resource versions, for deliveries: when many subscriptions are notified of the same
 * write, its version is read from PostgreSQL once, not once per subscription. A version never
 * changes, so a cached one is never stale; the cache keeps the most recently used `capacity`
 * versions, and a failed read is not kept (the retry reads again).
 *
 * Reads asked for in the same tick are read together in one statement (FhirStore.vreadMany): a
 * batch of internal events asks for all its versions at once, and one round trip per version was
 * most of the engine's statements per HL7 message.
 */
import type { FhirStore } from '../../fhir/index.ts';

interface Waiting {
  key: { resourceType: string; id: string; versionId: number };
  resolve: (content: string | undefined) => void;
  reject: (err: unknown) => void;
}

export class VersionContentCache {
  readonly #store: FhirStore;
  readonly #capacity: number;
  readonly #entries = new Map<string, Promise<string | undefined>>();
  #waiting: Waiting[] = [];

  constructor(store: FhirStore, capacity = 2_000) {
    this.#store = store;
    this.#capacity = capacity;
  }

  /** The JSON of that version (undefined for a delete's tombstone); rejects when it does not exist. */
  read(type: string, id: string, version: number): Promise<string | undefined> {
    const key = `${type}/${id}/${version}`;
    const cached = this.#entries.get(key);
    if (cached) {
      // Most recently used last: Map keeps insertion order.
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    const reading = new Promise<string | undefined>((resolve, reject) => {
      if (!this.#waiting.length) queueMicrotask(() => void this.#flush());
      this.#waiting.push({ key: { resourceType: type, id, versionId: version }, resolve, reject });
    });
    reading.catch(() => this.#entries.delete(key));
    this.#entries.set(key, reading);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
    return reading;
  }

  async #flush(): Promise<void> {
    const batch = this.#waiting;
    this.#waiting = [];
    try {
      const versions = await this.#store.vreadMany(batch.map((w) => w.key));
      batch.forEach((w, i) => {
        const v = versions[i];
        if (v) w.resolve(v.content ?? undefined);
        else w.reject(new Error(`${w.key.resourceType}/${w.key.id} has no version ${w.key.versionId}`));
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }
}
