/**
 * Builds the one FHIR transaction a message becomes (DESIGN.md decision 7: mapping is idempotent
 * through conditional writes keyed on identifiers). Each resource is added once per identity:
 *
 * - `upsert`: `PUT Type?identifier=system|value` — conditional update, so applying the same
 *   message twice (or a later message about the same thing) updates the same resource; the store
 *   writes no new version when nothing changed.
 * - `ensure`: `POST` with `ifNoneExist` — create only when missing; used where a message carries
 *   too little to overwrite what richer messages said (the patient of a lab result).
 * - `put`: `PUT Type/id` for a resource whose id we already know (a merge repointing references,
 *   the message's Provenance).
 *
 * Entries reference each other by `urn:uuid` fullUrls; the transaction rewrites them to the
 * resolved ids. A second add with the same identity returns the first entry's reference, since a
 * transaction must not touch one resource twice.
 */
import type { Bundle, BundleEntry, Identifier, Reference, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';

/** Escapes a token search value (FHIR search §2.1.1.1: `\`, `,`, `|`, `$`). */
export function escapeSearchValue(value: string): string {
  return value.replace(/[\\,|$]/g, (c) => `\\${c}`);
}

/**
 * The value of an identifier CareBridge derives from several parts (a diagnosis of a visit, an
 * observation of a report). `#` joins them: unlike `|`, `,` or `$` it has no meaning in token
 * search, so conditional writes on these identifiers stay simple (and cheap to recheck).
 */
export function derivedIdentifierValue(...parts: Array<string | undefined>): string {
  return parts.map((p) => (p ?? '').replaceAll('#', '%23')).join('#');
}

export function identifierQuery(identifier: Identifier): string {
  return `identifier=${encodeURIComponent(`${escapeSearchValue(identifier.system ?? '')}|${escapeSearchValue(identifier.value ?? '')}`)}`;
}

interface Added {
  fullUrl: string;
  entry: BundleEntry;
}

export class BundleBuilder {
  readonly #byIdentity = new Map<string, Added>();
  readonly #entries: BundleEntry[] = [];

  #add<T extends Resource>(key: string, resource: T, request: BundleEntry['request']): Reference<T> {
    const existing = this.#byIdentity.get(key);
    if (existing) return { reference: existing.fullUrl };
    const fullUrl = `urn:uuid:${randomUUID()}`;
    const entry: BundleEntry = { fullUrl, resource, request };
    this.#entries.push(entry);
    this.#byIdentity.set(key, { fullUrl, entry });
    return { reference: fullUrl };
  }

  /** Conditional update keyed on `identity` (which should also be in resource.identifier). */
  upsert<T extends Resource>(resource: T, identity: Identifier): Reference<T> {
    const url = `${resource.resourceType}?${identifierQuery(identity)}`;
    return this.#add(url, resource, { method: 'PUT', url });
  }

  /** Conditional create: the existing resource with this identifier, else a new one. */
  ensure<T extends Resource>(resource: T, identity: Identifier): Reference<T> {
    const url = `${resource.resourceType}?${identifierQuery(identity)}`;
    return this.#add(url, resource, { method: 'POST', url: resource.resourceType, ifNoneExist: url.slice(resource.resourceType.length + 1) });
  }

  /** Update (or create) the resource with a known id. */
  put<T extends Resource & { id: string }>(resource: T): Reference<T> {
    const url = `${resource.resourceType}/${resource.id}`;
    return this.#add(url, resource, { method: 'PUT', url });
  }

  /** The resource already added under this reference (to amend it before the bundle is built). */
  resourceOf<T extends Resource>(reference: Reference<T>): T | undefined {
    return this.#entries.find((e) => e.fullUrl === reference.reference)?.resource as T | undefined;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Every resource added so far (to post-process codings, build the Provenance). */
  resources(): Resource[] {
    return this.#entries.map((e) => e.resource as Resource);
  }

  /**
   * The conditions of the conditional writes added so far, as `Type` and search query: `forWrite`
   * for a conditional update (it will write what the condition finds), not for a conditional
   * create (it only reads it).
   */
  conditions(): Array<{ resourceType: string; query: string; forWrite: boolean }> {
    const out: Array<{ resourceType: string; query: string; forWrite: boolean }> = [];
    for (const { entry } of this.#byIdentity.values()) {
      const { method, url, ifNoneExist } = entry.request ?? {};
      const resourceType = (entry.resource as Resource).resourceType;
      if (method === 'PUT' && url?.startsWith(`${resourceType}?`)) out.push({ resourceType, query: url.slice(resourceType.length + 1), forWrite: true });
      else if (method === 'POST' && ifNoneExist) out.push({ resourceType, query: ifNoneExist, forWrite: false });
    }
    return out;
  }

  /**
   * References to the entries that write: all but the conditional creates whose condition
   * `exists` says found a resource (they only refer to it).
   */
  writtenReferences(exists: (resourceType: string, query: string) => boolean): Reference[] {
    return this.#entries
      .filter((e) => {
        const { method, ifNoneExist } = e.request ?? {};
        return !(method === 'POST' && ifNoneExist && exists((e.resource as Resource).resourceType, ifNoneExist));
      })
      .map((e) => ({ reference: e.fullUrl }));
  }

  build(): Bundle {
    return { resourceType: 'Bundle', type: 'transaction', entry: this.#entries };
  }
}
