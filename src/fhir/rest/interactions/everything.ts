/** $everything — GET [base]/Patient/[id]/$everything (http://hl7.org/fhir/R4/patient-operation-everything.html) */
import { parseEverythingQuery } from '../../operations/everything.ts';
import { searchsetJson } from '../bundle-json.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';

export async function everything(ctx: RestContext, req: FhirRequest, id: string): Promise<FhirResponse> {
  const query = parseEverythingQuery(id, req.query);
  const rows = await ctx.store.everything(query);
  const page = rows.slice(0, query.count);
  const link = (after?: string) => {
    const p = new URLSearchParams([...req.query].filter(([k]) => k !== '_after'));
    if (after) p.set('_after', after);
    return `${ctx.baseUrl}/Patient/${id}/$everything${p.size ? `?${p}` : ''}`;
  };
  const links = [{ relation: 'self', url: link(req.query.get('_after') ?? undefined) }];
  const last = page[page.length - 1];
  if (rows.length > query.count && last) links.push({ relation: 'next', url: link(`${last.resourceType}/${last.id}`) });
  const total = rows.length <= query.count && !query.after ? page.length : undefined;
  return { status: 200, body: searchsetJson(ctx.baseUrl, { type: 'searchset', total, links }, page) };
}
