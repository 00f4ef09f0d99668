/**
 * ConceptMap translation of senders' local codes, cached. A message carries a handful of local
 * codes, and looking each up with $translate is a search per code; this cache keeps answers —
 * including "no translation", the common case — for `ttlMs`. `invalidate()` empties it and is
 * called after any commit that writes a ConceptMap through this server process (server.ts), so on
 * one node a changed map applies to the next message; other nodes pick it up within `ttlMs`.
 */
import type { Coding } from '@medplum/fhirtypes';
import { DerivedCache, translate } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';

export class CachedCodeTranslator {
  readonly #store: FhirStore;
  readonly #cache: DerivedCache<Coding[]>;

  constructor(store: FhirStore, ttlMs: number) {
    this.#store = store;
    this.#cache = new DerivedCache(ttlMs);
  }

  invalidate(): void {
    this.#cache.invalidate();
  }

  /** The standard codings a stored ConceptMap gives for this local coding (none when unmapped). */
  async translate(coding: Coding): Promise<Coding[]> {
    return this.#cache.get(`${coding.system}|${coding.code}`, async () => {
      const result = await translate(this.#store, { system: coding.system, code: coding.code });
      return result.matches.filter((m) => m.equivalence !== 'unmatched' && m.equivalence !== 'disjoint' && m.concept.code).map((m) => m.concept);
    });
  }
}
