/**
 * $everything — GET [base]/Patient/[id]/$everything
 * (http://hl7.org/fhir/R4/patient-operation-everything.html): the patient, every resource in its
 * compartment, and the resources those refer to (practitioners, organizations, medications…).
 * `_since` (only resources updated since), `_type` (only these types), `_count` with keyset
 * paging over (resource type, id).
 */
import { compartmentMembers } from '../definitions.ts';
import { errors } from '../errors.ts';
import { parseDateRange } from '../search/date-range.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../search/search-query.ts';
import { isResourceType } from '../definitions.ts';
import type { EverythingQuery } from '../store/fhir-store.ts';

export function parseEverythingQuery(id: string, params: URLSearchParams): EverythingQuery {
  const count = params.get('_count');
  if (count !== null && !/^\d+$/.test(count)) throw errors.invalidSearch(`_count must be a non-negative integer, got "${count}"`, ['_count']);
  const since = params.get('_since');
  const sinceRange = since === null ? undefined : parseDateRange(since);
  if (since !== null && !sinceRange) throw errors.invalidSearch(`_since must be an instant, got "${since}"`, ['_since']);
  const types = params.get('_type')?.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of types ?? []) if (!isResourceType(t)) throw errors.invalidSearch(`_type: unknown resource type "${t}"`, ['_type']);
  const after = params.get('_after');
  let cursor: [string, string] | undefined;
  if (after) {
    const [type, ...rest] = after.split('/');
    if (!type || !rest.length) throw errors.invalidSearch('_after is not a position this server issued; follow the Bundle links', ['_after']);
    cursor = [type, rest.join('/')];
  }
  const members = compartmentMembers('Patient');
  return {
    patientId: id,
    membership: [...members].flatMap(([type, codes]) => codes.map((code): [string, string] => [type, code])),
    since: sinceRange ? new Date(sinceRange.low).toISOString() : undefined,
    types,
    count: Math.min(count === null ? DEFAULT_PAGE_SIZE * 5 : Number(count), MAX_PAGE_SIZE),
    after: cursor,
  };
}
