/**
 * history — GET [base]/_history, [base]/[type]/_history, [base]/[type]/[id]/_history
 * (http://hl7.org/fhir/R4/http.html#history), newest first, with `_since`, `_count` and paging.
 * The first page pins `_till` to now, so versions written while a client pages do not shift it.
 */
import { errors } from '../../errors.ts';
import { parseDateRange } from '../../search/date-range.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../search/search-query.ts';
import { historyJson } from '../bundle-json.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';

function instant(name: string, raw: string | null): string | undefined {
  if (raw === null) return undefined;
  const range = parseDateRange(raw);
  if (!range) throw errors.invalidSearch(`${name} must be an instant such as 2024-03-01T00:00:00Z, got "${raw}"`, [name]);
  return new Date(range.low).toISOString();
}

function nonNegative(name: string, raw: string | null, fallback: number, max: number): number {
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw errors.invalidSearch(`${name} must be a non-negative integer, got "${raw}"`, [name]);
  return Math.min(Number(raw), max);
}

export async function history(ctx: RestContext, req: FhirRequest, type?: string, id?: string): Promise<FhirResponse> {
  const q = req.query;
  const count = nonNegative('_count', q.get('_count'), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const offset = nonNegative('_offset', q.get('_offset'), 0, 10_000_000);
  const since = instant('_since', q.get('_since'));
  const till = instant('_till', q.get('_till')) ?? new Date().toISOString();
  if (type && id) await ctx.store.read(type, id).catch((err: unknown) => {
    // History of a deleted resource is still history; only an unknown one is 404.
    if ((err as { issueCode?: string }).issueCode !== 'deleted') throw err;
  });
  const versions = await ctx.store.history({ resourceType: type, id, since, till, count: count + 1, offset });
  const page = versions.slice(0, count);
  const path = [type, id, '_history'].filter(Boolean).join('/');
  const link = (off: number) => {
    const params = new URLSearchParams({ _count: String(count), _till: till, _offset: String(off) });
    if (since) params.set('_since', since);
    return `${ctx.baseUrl}/${path}?${params}`;
  };
  const links = [{ relation: 'self', url: link(offset) }];
  if (versions.length > count && count > 0) links.push({ relation: 'next', url: link(offset + count) });
  if (offset > 0 && count > 0) links.push({ relation: 'previous', url: link(Math.max(0, offset - count)) });
  return { status: 200, body: historyJson(ctx.baseUrl, { type: 'history', links }, page) };
}
