/**
 * search — GET [base]/[type]?…, POST [base]/[type]/_search, and compartment search
 * GET [base]/Patient/[id]/[type]?… (http://hl7.org/fhir/R4/search.html, #compartment).
 * Paging links carry a keyset cursor, so pages stay free of duplicates and gaps while others
 * write. Parameters the server does not support are ignored and reported in an `outcome` entry,
 * or rejected under `Prefer: handling=strict`.
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import { compartmentParams } from '../../definitions.ts';
import { errors } from '../../errors.ts';
import { encodeCursor, parseSearchQuery } from '../../search/search-query.ts';
import type { Cursor, SearchQuery } from '../../search/search-query.ts';
import { isSubsetting, subset } from '../../search/summary.ts';
import type { StoredVersion } from '../../store/fhir-store.ts';
import { searchsetJson } from '../bundle-json.ts';
import { strictHandling } from '../fhir-request.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';

function pageUrl(ctx: RestContext, path: string, params: URLSearchParams, query: SearchQuery, cursor: Cursor | undefined): string {
  const p = new URLSearchParams([...params].filter(([k]) => k !== '_offset' && k !== '_count' && k !== '_cursor'));
  p.set('_count', String(query.count));
  if (cursor) p.set('_cursor', encodeCursor(cursor));
  else if (query.offset > 0) p.set('_offset', String(query.offset));
  return `${ctx.baseUrl}/${path}?${p}`;
}

export interface CompartmentScope {
  type: string;
  id: string;
}

export async function search(ctx: RestContext, req: FhirRequest, type: string, params: URLSearchParams, compartment?: CompartmentScope): Promise<FhirResponse> {
  const query = parseSearchQuery(type, params, strictHandling(req.prefer));
  let path = type;
  if (compartment) {
    const codes = compartmentParams(compartment.type, type);
    if (!codes) throw errors.invalidSearch(`${type} is not in the ${compartment.type} compartment`);
    await ctx.store.read(compartment.type, compartment.id); // 404/410 for an unknown or deleted compartment owner
    query.compartment = { ...compartment, params: codes };
    path = `${compartment.type}/${compartment.id}/${type}`;
  }
  const result = await ctx.store.search(query);
  const links = [{ relation: 'self', url: pageUrl(ctx, path, params, query, query.cursor) }];
  if (result.next) links.push({ relation: 'next', url: pageUrl(ctx, path, params, query, result.next) });
  if (result.previous) links.push({ relation: 'previous', url: pageUrl(ctx, path, params, query, result.previous) });
  const issues = [...query.ignored, ...result.warnings];
  const outcome: OperationOutcome | undefined = issues.length ? { resourceType: 'OperationOutcome', issue: issues } : undefined;
  const shape = (v: StoredVersion): StoredVersion =>
    isSubsetting(query.summary, query.elements) && v.content ? { ...v, content: subset(v.content, query.summary, query.elements) } : v;
  return {
    status: 200,
    body: searchsetJson(ctx.baseUrl, { type: 'searchset', total: result.total, links, outcome }, result.versions.map(shape), result.included),
  };
}
