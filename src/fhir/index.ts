/**
 * The public interface of the FHIR module (STYLE.md rule 1) for the modules built on it (HL7 v2
 * adapters, subscriptions, care plans): the store, running a transaction Bundle exactly as
 * `POST /fhir` would, and the errors it throws. Nothing else in src/fhir is for them.
 */
import type { Bundle } from '@medplum/fhirtypes';
import type { PoolClient } from '../db/pool.ts';
import type { ServerInfo } from './rest/interactions/capabilities.ts';
import type { ReindexService } from './rest/interactions/reindex.ts';
import { applyTransaction } from './rest/interactions/transaction.ts';
import { statusLine } from './rest/interactions/bundle-entry.ts';
import { FhirError } from './errors.ts';
import { MAX_PAGE_SIZE, parseSearchQuery } from './search/search-query.ts';
import type { FhirStore, StoredVersion } from './store/fhir-store.ts';
import { PgFhirStore, plainIdentifierCondition } from './store/pg-fhir-store.ts';

export { ErrorCode, errors, FhirError, issue } from './errors.ts';
export { parseEverythingQuery } from './operations/everything.ts';
export { DerivedCache } from './derived-cache.ts';
export { operationInputs, singleInput } from './operations/operation-inputs.ts';
export { translate } from './operations/translate.ts';
export type { FhirStore, StoredVersion } from './store/fhir-store.ts';
export type { ExtraOperation, ServerInfo } from './rest/interactions/capabilities.ts';
export type { FhirRequest, FhirResponse, RestContext } from './rest/fhir-request.ts';
export { isRetryable, PgFhirStore } from './store/pg-fhir-store.ts';

export interface TransactionContext {
  /** Absolute FHIR base URL (for fullUrls in the response). */
  baseUrl: string;
  server: ServerInfo;
  reindex: ReindexService;
}

/** A resource a transaction wrote: `Type/id/_history/version`. */
export interface WrittenResource {
  resourceType: string;
  id: string;
  versionId: string;
  /** The entry's HTTP status: 201 created, 200 updated (or unchanged). */
  status: string;
}

/**
 * Runs a transaction Bundle on `store` (which may already be bound to an open database
 * transaction: then the Bundle's writes commit or roll back with it). Returns what each entry wrote.
 * Throws FhirError for anything the REST API would answer with 4xx.
 */
export async function runTransaction(ctx: TransactionContext, store: FhirStore, bundle: Bundle): Promise<WrittenResource[]> {
  const results = await applyTransaction({ ...ctx, store }, { method: 'POST', segments: [], query: new URLSearchParams(), prefer: 'return=minimal' }, bundle);
  // What the response Bundle's entries would name: a fullUrl and ETag for every write but a delete.
  return results.flatMap((r) => (r.version && !r.version.deleted ? [{ resourceType: r.version.resourceType, id: r.version.id, versionId: String(r.version.versionId), status: statusLine(r.status) }] : []));
}

/**
 * Current resources matching a search (strict: unknown parameters are errors), at most `count`,
 * without the locking findConditional does — for reads that decide nothing about creating.
 */
export async function findMatches(store: FhirStore, resourceType: string, params: URLSearchParams, count = 2): Promise<StoredVersion[]> {
  // The common `identifier=system|value` lookup takes the index directly, without search planning.
  const identifier = plainIdentifierCondition(resourceType, params);
  if (identifier) return ((await store.findByIdentifiers([identifier]))[0] ?? []).slice(0, count);
  const query = parseSearchQuery(resourceType, params, true);
  query.count = count;
  query.total = 'none';
  return (await store.search(query)).versions;
}

/**
 * The ids of the current resources matching a search (strict), unpaged, without their content:
 * for searches their filters bound, such as criteria checked with `_id` = the resources written.
 */
export async function matchingIds(store: FhirStore, resourceType: string, params: URLSearchParams): Promise<Set<string>> {
  return new Set(await store.matchingIds(parseSearchQuery(resourceType, params, true)));
}

/** Every current resource matching a search (strict), all pages. For bounded sets (configuration-like resources). */
export async function searchAll(store: FhirStore, resourceType: string, params: URLSearchParams): Promise<StoredVersion[]> {
  const query = parseSearchQuery(resourceType, new URLSearchParams([...params, ['_count', String(MAX_PAGE_SIZE)]]), true);
  query.total = 'none';
  const out: StoredVersion[] = [];
  for (;;) {
    const page = await store.search(query);
    out.push(...page.versions);
    if (!page.next) return out;
    query.cursor = page.next;
  }
}

/** Why a search is not valid (unknown parameter, bad value…), or undefined when it is. */
export function searchProblem(resourceType: string, params: URLSearchParams): string | undefined {
  try {
    parseSearchQuery(resourceType, params, true);
    return undefined;
  } catch (err) {
    if (err instanceof FhirError) return err.message;
    throw err;
  }
}

export { isResourceType } from './definitions.ts';

/** A store bound to a transaction the caller opened on `client` (BEGIN … COMMIT are the caller's). */
export function storeInTransaction(client: PoolClient): FhirStore {
  return new PgFhirStore(client, {}, new Set());
}
