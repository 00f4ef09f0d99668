/**
 * Turns a parsed SearchQuery into parameterised SQL over fhir_resource and the search_* index
 * tables. Every value is a bind parameter; identifiers come only from fixed strings here.
 * Matching rules: http://hl7.org/fhir/R4/search.html (prefixes §3.1.1.4.x, modifiers §3.1.1.5).
 */
import { parseDateRange } from './date-range.ts';
import { normalizeString, parseRelativeReference } from './index-rows.ts';
import type { FilterValue, SearchFilter, SearchQuery } from './search-query.ts';

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  /** A placeholder bound only when first used: PostgreSQL cannot type a parameter no clause mentions. */
  lazy(value: unknown): () => string {
    let placeholder: string | undefined;
    return () => (placeholder ??= this.add(value));
  }
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
const iso = (ms: number) => new Date(ms).toISOString();

/** Implicit range of a decimal search value by its significant digits: 100 → [99.5, 100.5). */
function numberRange(value: string): [number, number] {
  const n = Number(value);
  const mantissa = value.toLowerCase().split('e')[0]!;
  const exponent = Number(value.toLowerCase().split('e')[1] ?? 0);
  const decimals = (mantissa.split('.')[1] ?? '').length - exponent;
  const half = 0.5 * 10 ** -decimals;
  return [n - half, n + half];
}

function dateCondition(p: Params, low: string, high: string, v: FilterValue): string {
  const range = parseDateRange(v.value)!;
  const sLow = p.lazy(iso(range.low));
  const sHigh = p.lazy(iso(range.high));
  const within = () => `(${low} >= ${sLow()}::timestamptz AND ${high} <= ${sHigh()}::timestamptz)`;
  switch (v.prefix) {
    case 'eq':
      return within();
    case 'ne':
      return `NOT ${within()}`;
    case 'gt':
      return `${high} > ${sHigh()}::timestamptz`;
    case 'lt':
      return `${low} < ${sLow()}::timestamptz`;
    case 'ge':
      return `(${high} > ${sHigh()}::timestamptz OR ${within()})`;
    case 'le':
      return `(${low} < ${sLow()}::timestamptz OR ${within()})`;
    case 'sa':
      return `${low} > ${sHigh()}::timestamptz`;
    case 'eb':
      return `${high} < ${sLow()}::timestamptz`;
    case 'ap': {
      // "Approximately": the ranges overlap once the search range is widened by 10 % of its distance from now.
      const slack = Math.max(Math.abs(Date.now() - range.low) * 0.1, 86_400_000);
      return `(${low} <= ${p.add(iso(range.high + slack))}::timestamptz AND ${high} >= ${p.add(iso(range.low - slack))}::timestamptz)`;
    }
  }
}

function numberCondition(p: Params, column: string, v: FilterValue, raw: string): string {
  const n = p.lazy(raw);
  switch (v.prefix) {
    case 'eq':
    case 'ne': {
      const [lo, hi] = numberRange(raw);
      const inRange = `(${column} >= ${p.add(String(lo))}::numeric AND ${column} < ${p.add(String(hi))}::numeric)`;
      return v.prefix === 'eq' ? inRange : `NOT ${inRange}`;
    }
    case 'gt':
    case 'sa':
      return `${column} > ${n()}::numeric`;
    case 'lt':
    case 'eb':
      return `${column} < ${n()}::numeric`;
    case 'ge':
      return `${column} >= ${n()}::numeric`;
    case 'le':
      return `${column} <= ${n()}::numeric`;
    case 'ap': {
      const x = Number(raw);
      const [a, b] = [x * 0.9, x * 1.1].sort((m, k) => m - k);
      return `(${column} >= ${p.add(String(a))}::numeric AND ${column} <= ${p.add(String(b))}::numeric)`;
    }
  }
}

function tokenCondition(p: Params, v: FilterValue): string {
  if (v.parts.length === 1) return `value = ${p.add(v.parts[0])}`;
  const [system, code] = v.parts as [string, string];
  if (system === '') return `(system IS NULL AND value = ${p.add(code)})`;
  if (code === '') return `system = ${p.add(system)}`;
  return `(system = ${p.add(system)} AND value = ${p.add(code)})`;
}

function referenceCondition(p: Params, v: FilterValue, typeModifier: string | undefined): string {
  const value = v.value;
  const relative = parseRelativeReference(value);
  if (relative) {
    if (typeModifier && typeModifier !== relative.type) return 'false';
    return `(target_type = ${p.add(relative.type)} AND target_id = ${p.add(relative.id)})`;
  }
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(value)) {
    return typeModifier ? `(target_type = ${p.add(typeModifier)} AND target_id = ${p.add(value)})` : `target_id = ${p.add(value)}`;
  }
  return `reference = ${p.add(value)}`;
}

function indexCondition(p: Params, f: SearchFilter, v: FilterValue): string {
  switch (f.type) {
    case 'token':
      return tokenCondition(p, v);
    case 'string':
      if (f.modifier === 'exact') return `raw = ${p.add(v.value)}`;
      if (f.modifier === 'contains') return `value LIKE ${p.add(`%${likeEscape(normalizeString(v.value))}%`)}`;
      return `value LIKE ${p.add(`${likeEscape(normalizeString(v.value))}%`)}`;
    case 'date':
      return dateCondition(p, 'low', 'high', v);
    case 'number':
      return numberCondition(p, 'low', v, v.value);
    case 'quantity': {
      const [num, system, code] = v.parts as [string, string | undefined, string | undefined];
      const conditions = [numberCondition(p, 'value', v, num)];
      if (system) conditions.push(`system = ${p.add(system)}`);
      if (code) conditions.push(`unit = ${p.add(code)}`);
      return `(${conditions.join(' AND ')})`;
    }
    case 'reference':
      return referenceCondition(p, v, f.modifier);
    case 'uri':
      if (f.modifier === 'below') return `value LIKE ${p.add(`${likeEscape(v.value)}%`)}`;
      if (f.modifier === 'above') return `${p.add(v.value)} LIKE (replace(replace(replace(value, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')`;
      return `value = ${p.add(v.value)}`;
    default:
      throw new Error(`not an index filter: ${f.type}`);
  }
}

function filterCondition(p: Params, f: SearchFilter, typeParam: string): string {
  if (f.type === 'id') {
    const ids = p.add(f.values.map((v) => v.value));
    return f.modifier === 'not' ? `r.id <> ALL(${ids}::text[])` : `r.id = ANY(${ids}::text[])`;
  }
  if (f.type === 'lastUpdated') {
    return `(${f.values.map((v) => dateCondition(p, 'r.last_updated', 'r.last_updated', v)).join(' OR ')})`;
  }
  const table = `search_${f.type}`;
  const code = p.add(f.code);
  if (f.modifier === 'missing') {
    const exists = `EXISTS (SELECT 1 FROM ${table} s WHERE s.resource_type = r.resource_type AND s.resource_id = r.id AND s.code = ${code})`;
    return f.values[0]!.value === 'true' ? `NOT ${exists}` : exists;
  }
  const any = f.values.map((v) => indexCondition(p, f, v)).join(' OR ');
  const subquery = `SELECT resource_id FROM ${table} WHERE resource_type = ${typeParam} AND code = ${code} AND (${any})`;
  return f.modifier === 'not' ? `r.id NOT IN (${subquery})` : `r.id IN (${subquery})`;
}

export interface SearchSql {
  text: string;
  values: unknown[];
}

function whereClause(query: SearchQuery): { where: string; params: Params } {
  const p = new Params();
  const typeParam = p.add(query.resourceType);
  const conditions = [`r.resource_type = ${typeParam}`, 'NOT r.deleted', ...query.filters.map((f) => filterCondition(p, f, typeParam))];
  return { where: conditions.join('\n  AND '), params: p };
}

const SORT_COLUMNS = { _id: 'r.id', _lastUpdated: 'r.last_updated' } as const;

/** The page query: one row more than the page size, to know whether another page exists. */
export function searchPageSql(query: SearchQuery): SearchSql {
  const { where, params } = whereClause(query);
  const order = query.sort.map((s) => `${SORT_COLUMNS[s.code]} ${s.descending ? 'DESC' : 'ASC'}`);
  if (!query.sort.some((s) => s.code === '_id')) order.push('r.id ASC'); // a total order keeps pages stable
  const text = `SELECT r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}' AS last_updated, r.deleted, r.content
FROM fhir_resource r
WHERE ${where}
ORDER BY ${order.join(', ')}
LIMIT ${params.add(query.count + 1)} OFFSET ${params.add(query.offset)}`;
  return { text, values: params.values };
}

export function searchCountSql(query: SearchQuery): SearchSql {
  const { where, params } = whereClause(query);
  return { text: `SELECT count(*)::int AS total FROM fhir_resource r WHERE ${where}`, values: params.values };
}
