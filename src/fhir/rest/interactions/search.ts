/**
 * search — GET [base]/[type]?…, POST [base]/[type]/_search (http://hl7.org/fhir/R4/search.html).
 * Parameters the server does not support are ignored and reported in an `outcome` entry, or
 * rejected under `Prefer: handling=strict`.
 */
import { parseSearchQuery } from '../../search/search-query.ts';
import type { SearchQuery } from '../../search/search-query.ts';
import { searchsetJson } from '../bundle-json.ts';
import { strictHandling } from '../fhir-request.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';

function pageUrl(ctx: RestContext, type: string, params: URLSearchParams, query: SearchQuery, offset: number): string {
  const p = new URLSearchParams([...params].filter(([k]) => k !== '_offset' && k !== '_count'));
  p.set('_count', String(query.count));
  if (offset > 0) p.set('_offset', String(offset));
  return `${ctx.baseUrl}/${type}?${p}`;
}

export async function search(ctx: RestContext, req: FhirRequest, type: string, params: URLSearchParams): Promise<FhirResponse> {
  const query = parseSearchQuery(type, params, strictHandling(req.prefer));
  const result = await ctx.store.search(query);
  const links = [{ relation: 'self', url: pageUrl(ctx, type, params, query, query.offset) }];
  if (result.hasMore && query.count > 0) links.push({ relation: 'next', url: pageUrl(ctx, type, params, query, query.offset + query.count) });
  if (query.offset > 0 && query.count > 0) links.push({ relation: 'previous', url: pageUrl(ctx, type, params, query, Math.max(0, query.offset - query.count)) });
  const outcome = query.ignored.length ? { resourceType: 'OperationOutcome' as const, issue: query.ignored } : undefined;
  return { status: 200, body: searchsetJson(ctx.baseUrl, { type: 'searchset', total: result.total, links, outcome }, result.versions) };
}
