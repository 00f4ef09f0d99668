/**
 * ConceptMap translation of senders' local codes, cached. A message carries a handful of local
 * codes, and looking each up with $translate is a search per code; this cache keeps answers —
 * including "no translation", the common case — for `ttlMs`. `invalidate()` empties it and is
 * called after any commit that writes a ConceptMap through this server process (server.ts), so on
 * one node a changed map applies to the next message; other nodes pick it up within `ttlMs`.
 */
import type { Coding } from '@medplum/fhirtypes';
import { translate } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';

export class CachedCodeTranslator {
  readonly #store: FhirStore;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { at: number; codings: Coding[] }>();
  #generation = 0;

  constructor(store: FhirStore, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  invalidate(): void {
    this.#generation++;
    this.#cache.clear();
  }

  /** The standard codings a stored ConceptMap gives for this local coding (none when unmapped). */
  async translate(coding: Coding): Promise<Coding[]> {
    const key = `${coding.system}|${coding.code}`;
    const hit = this.#cache.get(key);
    if (hit && Date.now() - hit.at < this.#ttlMs) return hit.codings;
    const generation = this.#generation;
    const result = await translate(this.#store, { system: coding.system, code: coding.code });
    const codings = result.matches.filter((m) => m.equivalence !== 'unmatched' && m.equivalence !== 'disjoint' && m.concept.code).map((m) => m.concept);
    // An invalidation while we were asking means the answer may be stale: do not keep it.
    if (generation === this.#generation) {
      if (this.#cache.size >= 50_000) this.#cache.clear();
      this.#cache.set(key, { at: Date.now(), codings });
    }
    return codings;
  }
}
