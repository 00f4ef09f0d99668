/**
 * Answers derived from stored resources — a ConceptMap translation, the active protocols — kept
 * in memory for `ttlMs`. `invalidate()` drops them; the composition root calls it after a commit
 * through this server process that wrote their source resources, so a change applies to the next
 * use here, and other server processes see it within `ttlMs`. An answer loaded while an
 * invalidation happened is returned but not kept: it may predate the change.
 */
export class DerivedCache<V> {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { at: number; value: V }>();
  #generation = 0;

  /** `maxEntries`: when full, the cache is emptied (a bound, not an LRU: the keys are few and hot). */
  constructor(ttlMs: number, maxEntries = 50_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  invalidate(): void {
    this.#generation++;
    this.#entries.clear();
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit && Date.now() - hit.at < this.#ttlMs) return hit.value;
    const generation = this.#generation;
    const value = await load();
    if (generation === this.#generation) {
      if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
      this.#entries.set(key, { at: Date.now(), value });
    }
    return value;
  }
}
