/**
 * Turns a parsed SearchQuery into parameterised SQL over fhir_resource and the search_* index
 * tables. Every value is a bind parameter; identifiers come only from fixed strings here.
 * Matching rules: http://hl7.org/fhir/R4/search.html (prefixes §3.1.1.4.x, modifiers §3.1.1.5,
 * chaining §3.1.1.4.13, _has §3.1.1.4.14, composite §3.1.1.4.10).
 */
import { R_VERSION_COLUMNS } from '../store/sql.ts';
import { parseDateRange } from './date-range.ts';
import { normalizeString, parseRelativeReference } from './index-rows.ts';
import { canonicalFactor, UCUM_SYSTEM } from './ucum.ts';
import { codesForTarget, referenceSubset } from './typed-references.ts';
import { indexCodes } from './union-params.ts';
import type { Cursor, FilterType, FilterValue, SearchFilter, SearchQuery, SortRule } from './search-query.ts';

export class Params {
  readonly values: unknown[] = [];
  private aliases = 0;
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  /** A placeholder bound only when first used: PostgreSQL cannot type a parameter no clause mentions. */
  lazy(value: unknown): () => string {
    let placeholder: string | undefined;
    return () => (placeholder ??= this.add(value));
  }
  alias(): string {
    return `x${++this.aliases}`;
  }
}

/**
 * Selects the index rows (of the table aliased `prefix`, '' or 's.') that answer parameter `code`
 * of `resourceType`: its own; its union parts' (union-params.ts); or, for a reference parameter
 * restricted to one target type, the rows of the parameter it restricts that point at that type
 * (typed-references.ts).
 */
function codeMatch(p: Params, prefix: string, resourceType: string, code: string): string {
  const subset = referenceSubset(resourceType, code);
  if (subset) return `(${prefix}code = ${p.add(subset.code)} AND ${prefix}target_type = ${p.add(subset.targetType)})`;
  const codes = indexCodes(resourceType, code);
  return codes.length === 1 ? `${prefix}code = ${p.add(codes[0])}` : `${prefix}code = ANY(${p.add(codes)}::text[])`;
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
const iso = (ms: number) => new Date(ms).toISOString();

/** Implicit range of a decimal search value by its significant digits: 100 → [99.5, 100.5). */
function numberRange(value: string): [number, number] {
  const n = Number(value);
  const [mantissa = '', exponent = '0'] = value.toLowerCase().split('e');
  const decimals = (mantissa.split('.')[1] ?? '').length - Number(exponent);
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
      // The last clause follows from the others; it lets the (code, high) index bound the scan.
      return `((${high} > ${sHigh()}::timestamptz OR ${within()}) AND ${high} >= ${sLow()}::timestamptz)`;
    case 'le':
      return `((${low} < ${sLow()}::timestamptz OR ${within()}) AND ${low} <= ${sHigh()}::timestamptz)`;
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

/** `raw` compared with a numeric column; `factor` scales the search value (UCUM canonical units). */
function numberCondition(p: Params, column: string, v: FilterValue, raw: string, factor = 1): string {
  const scale = (x: number) => String(factor === 1 ? x : x * factor);
  const n = p.lazy(factor === 1 ? raw : scale(Number(raw)));
  switch (v.prefix) {
    case 'eq':
    case 'ne': {
      const [lo, hi] = numberRange(raw).map((x) => Number(scale(x))) as [number, number];
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
      const x = Number(raw) * factor;
      const [a, b] = [x * 0.9, x * 1.1].sort((m, k) => m - k);
      return `(${column} >= ${p.add(String(a))}::numeric AND ${column} <= ${p.add(String(b))}::numeric)`;
    }
  }
}

function tokenCondition(p: Params, v: FilterValue, system = 'system', value = 'value'): string {
  if (v.parts.length === 1) return `${value} = ${p.add(v.parts[0])}`;
  const [sys, code] = v.parts as [string, string];
  if (sys === '') return `(${system} IS NULL AND ${value} = ${p.add(code)})`;
  if (code === '') return `${system} = ${p.add(sys)}`;
  return `(${system} = ${p.add(sys)} AND ${value} = ${p.add(code)})`;
}

/**
 * Several token values of one parameter (`status=requested,in-progress`, `code=sys|a,sys|b`) as
 * one `value = ANY(...)`, with their common system if they have one: an OR of equalities cannot
 * be an index condition, so it scanned every entry of the parameter (34,000 Task status entries
 * for 3,240 matches), while ANY reads just the entries of each value. Undefined when the values
 * do not share a form (then they are ORed).
 */
function tokenValuesCondition(p: Params, values: readonly FilterValue[]): string | undefined {
  if (values.length < 2) return undefined;
  if (values.every((v) => v.parts.length === 1)) return `value = ANY(${p.add(values.map((v) => v.parts[0]))}::text[])`;
  const system = values[0]!.parts[0];
  const sameSystem = values.every((v) => v.parts.length === 2 && v.parts[0] === system && v.parts[1] !== '');
  if (!system || !sameSystem) return undefined;
  return `(system = ${p.add(system)} AND value = ANY(${p.add(values.map((v) => v.parts[1]))}::text[]))`;
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
  // Only a reference that did not parse as relative can equal it (its target_id is null): the
  // condition says so, which lets the partial index on reference serve it (migration 0014).
  return `(target_id IS NULL AND reference = ${p.add(value)})`;
}

function stringCondition(p: Params, v: FilterValue, modifier: string | undefined, column = 'value', raw = 'raw'): string {
  if (modifier === 'exact') return `${raw} = ${p.add(v.value)}`;
  const normalized = likeEscape(normalizeString(v.value));
  if (modifier === 'contains') return `${column} LIKE ${p.add(`%${normalized}%`)}`;
  return `${column} LIKE ${p.add(`${normalized}%`)}`;
}

/** The index table a leaf parameter of this type lives in, and its condition for one value. */
function leafCondition(p: Params, type: FilterType, modifier: string | undefined, v: FilterValue): { table: string; sql: string } {
  switch (type) {
    case 'token':
      if (modifier === 'text') {
        const text = likeEscape(normalizeString(v.value));
        return { table: 'search_token', sql: `(display LIKE ${p.add(`${text}%`)} OR display LIKE ${p.add(`% ${text}%`)})` };
      }
      if (modifier === 'of-type') {
        const [system, code, value] = v.parts as [string, string, string];
        return { table: 'search_token', sql: `(type = ${p.add(`${system}|${code}`)} AND value = ${p.add(value)})` };
      }
      return { table: 'search_token', sql: tokenCondition(p, v) };
    case 'string':
      return { table: 'search_string', sql: stringCondition(p, v, modifier) };
    case 'date':
      return { table: 'search_date', sql: dateCondition(p, 'low', 'high', v) };
    case 'number':
      return { table: 'search_number', sql: numberCondition(p, 'low', v, v.value) };
    case 'quantity': {
      const [num, system, code] = v.parts as [string, string | undefined, string | undefined];
      const conditions = [numberCondition(p, 'value', v, num)];
      if (system) conditions.push(`system = ${p.add(system)}`);
      if (code) conditions.push(`unit = ${p.add(code)}`);
      const asWritten = `(${conditions.join(' AND ')})`;
      // A UCUM unit also matches every quantity of the same dimension, compared in canonical units.
      const canonical = code && (!system || system === UCUM_SYSTEM) ? canonicalFactor(code) : undefined;
      if (!canonical) return { table: 'search_quantity', sql: asWritten };
      const inCanonical = `(canonical_unit = ${p.add(canonical.unit)} AND ${numberCondition(p, 'canonical_value', v, num, canonical.factor)})`;
      return { table: 'search_quantity', sql: `(${asWritten} OR ${inCanonical})` };
    }
    case 'reference':
      if (modifier === 'identifier') return { table: 'search_token', sql: tokenCondition(p, v) };
      return { table: 'search_reference', sql: referenceCondition(p, v, modifier) };
    case 'uri':
      if (modifier === 'below') return { table: 'search_uri', sql: `value LIKE ${p.add(`${likeEscape(v.value)}%`)}` };
      if (modifier === 'above') return { table: 'search_uri', sql: `${p.add(v.value)} LIKE (replace(replace(replace(value, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')` };
      return { table: 'search_uri', sql: `value = ${p.add(v.value)}` };
    default:
      throw new Error(`not an index parameter type: ${type}`);
  }
}

const TABLE_OF: Record<Exclude<FilterType, 'id' | 'lastUpdated'>, string> = {
  token: 'search_token',
  string: 'search_string',
  date: 'search_date',
  number: 'search_number',
  quantity: 'search_quantity',
  reference: 'search_reference',
  uri: 'search_uri',
};

/** The composite's second component, on the c2_* columns. */
function compositeSecond(p: Params, type: FilterType, v: FilterValue): string {
  switch (type) {
    case 'token':
      return tokenCondition(p, v, 'c2_system', 'c2_value');
    case 'quantity': {
      const [num, system, code] = v.parts as [string, string | undefined, string | undefined];
      const conditions = [numberCondition(p, 'c2_number', v, num)];
      if (system) conditions.push(`c2_system = ${p.add(system)}`);
      if (code) conditions.push(`c2_value = ${p.add(code)}`);
      return `(${conditions.join(' AND ')})`;
    }
    case 'number':
      return numberCondition(p, 'c2_number', v, v.value);
    case 'date':
      return dateCondition(p, 'c2_low', 'c2_high', v);
    case 'string':
      return `c2_value LIKE ${p.add(`${likeEscape(normalizeString(v.value))}%`)}`;
    default:
      return `c2_value = ${p.add(v.value)}`;
  }
}

/** True when the filter's matches can be listed from the index tables alone (no row of fhir_resource needed). */
export function listable(f: SearchFilter): boolean {
  return f.kind !== 'param' || (f.type !== 'id' && f.type !== 'lastUpdated' && f.modifier !== 'not' && f.modifier !== 'missing');
}

/**
 * A SELECT of the ids of resources of `resourceType` (the SQL expression `typeSql`) matching the
 * filter. Index rows exist only for current, non-deleted versions, so listable filters need no
 * join with fhir_resource; the others are checked on it.
 */
export function matchingIds(p: Params, resourceType: string, typeSql: string, f: SearchFilter): string {
  if (!listable(f)) {
    const x = p.alias();
    return `SELECT ${x}.id FROM fhir_resource ${x} WHERE ${x}.resource_type = ${typeSql} AND NOT ${x}.deleted AND ${filterCondition(p, resourceType, typeSql, x, f)}`;
  }
  switch (f.kind) {
    case 'param': {
      const code = f.type === 'reference' && f.modifier === 'identifier' ? `code = ${p.add(`${f.code}:identifier`)}` : codeMatch(p, '', resourceType, f.code);
      const anyToken = f.type === 'token' && !f.modifier ? tokenValuesCondition(p, f.values) : undefined;
      if (anyToken) return `SELECT resource_id FROM search_token WHERE resource_type = ${typeSql} AND ${code} AND ${anyToken}`;
      const leaves = f.values.map((v) => leafCondition(p, f.type, f.modifier, v));
      return `SELECT resource_id FROM ${leaves[0]!.table} WHERE resource_type = ${typeSql} AND ${code} AND (${leaves.map((l) => l.sql).join(' OR ')})`;
    }
    case 'composite': {
      const any = f.values.map(([first, second]) => `(${tokenCondition(p, first, 'c1_system', 'c1_value')} AND ${compositeSecond(p, f.secondType, second)})`).join(' OR ');
      return `SELECT resource_id FROM search_composite WHERE resource_type = ${typeSql} AND ${codeMatch(p, '', resourceType, f.code)} AND (${any})`;
    }
    case 'chain': {
      // One branch per target type, each able to use the (resource_type, code, target_id) index.
      const code = codeMatch(p, '', resourceType, f.code);
      return f.branches
        .map((b) => {
          const targetType = p.add(b.targetType);
          return `SELECT resource_id FROM search_reference WHERE resource_type = ${typeSql} AND ${code} AND target_type = ${targetType}
          AND target_id IN (${matchingIds(p, b.targetType, targetType, b.inner)})`;
        })
        .join('\n        UNION ALL ');
    }
    case 'has': {
      const sourceType = p.add(f.sourceType);
      return `SELECT target_id FROM search_reference WHERE resource_type = ${sourceType} AND ${codeMatch(p, '', f.sourceType, f.referenceCode)} AND target_type = ${typeSql}
        AND resource_id IN (${matchingIds(p, f.sourceType, sourceType, f.inner)})`;
    }
  }
}

/**
 * A boolean SQL condition: the resource `alias` (a row of fhir_resource whose type is the SQL
 * expression `typeSql`, naming `resourceType`) matches the filter.
 */
export function filterCondition(p: Params, resourceType: string, typeSql: string, alias: string, f: SearchFilter): string {
  if (f.kind === 'param') {
    if (f.type === 'id') {
      const ids = p.add(f.values.map((v) => v.value));
      return f.modifier === 'not' ? `${alias}.id <> ALL(${ids}::text[])` : `${alias}.id = ANY(${ids}::text[])`;
    }
    if (f.type === 'lastUpdated') {
      return `(${f.values.map((v) => dateCondition(p, `${alias}.last_updated`, `${alias}.last_updated`, v)).join(' OR ')})`;
    }
    if (f.modifier === 'missing') {
      const exists = `EXISTS (SELECT 1 FROM ${TABLE_OF[f.type]} s WHERE s.resource_type = ${alias}.resource_type AND s.resource_id = ${alias}.id AND ${codeMatch(p, 's.', resourceType, f.code)})`;
      return f.values[0]!.value === 'true' ? `NOT ${exists}` : exists;
    }
    if (f.modifier === 'not') {
      return `${alias}.id NOT IN (${matchingIds(p, resourceType, typeSql, { ...f, modifier: undefined })})`;
    }
  }
  return `${alias}.id IN (${matchingIds(p, resourceType, typeSql, f)})`;
}

export interface SearchSql {
  text: string;
  values: unknown[];
}

/**
 * The rows a page is picked from. When the page is sorted by search parameters and every filter
 * can list its ids from the index tables, they come from one filter's index entries alone: index
 * rows exist only for live resources, so probing fhir_resource for each of thousands of matches
 * would only repeat what the index says (a 3,240-Task worklist: 27 → 18 ms). Otherwise, the live
 * resources of the type.
 */
function pageSource(query: SearchQuery, p: Params, typeParam: string): PageSource {
  // Not a `_has` filter: it lists the targets of references, which may be deleted or dangling.
  const driver = query.filters.find((f) => f.kind !== 'has');
  // Only when sorted by search parameters: every match is then evaluated for its sort key anyway.
  // In id order, walking the live ids can stop at the page's end, which listing first cannot (a
  // filter matching 130,000 Observations: 1 ms walked, 75 ms listed).
  const bySearchParameters = query.sort.length > 0 && query.sort.every((rule) => rule.type !== 'lastUpdated' && rule.type !== 'id');
  const indexOnly = driver && bySearchParameters && query.filters.every(listable);
  if (!indexOnly) return liveSource(query, typeParam);
  const from = `(SELECT DISTINCT m.id FROM (${matchingIds(p, query.resourceType, typeParam, driver)}) AS m(id)) r`;
  return { from, conditions: [], filters: query.filters.filter((f) => f !== driver) };
}

function liveSource(query: SearchQuery, typeParam: string): PageSource {
  return { from: 'fhir_resource r', conditions: [`r.resource_type = ${typeParam}`, 'NOT r.deleted'], filters: query.filters };
}

interface PageSource {
  /** FROM item, aliased `r` with at least an `id` column. */
  from: string;
  conditions: string[];
  /** The filters still to apply as conditions on `r`. */
  filters: SearchFilter[];
}

/** The conditions on `r` besides those of the page source; the type is parameter `typeParam`. */
function whereConditions(query: SearchQuery, p: Params, typeParam: string, source: PageSource): string[] {
  const conditions = [...source.conditions, ...source.filters.map((f) => filterCondition(p, query.resourceType, typeParam, 'r', f))];
  const c = query.compartment;
  if (c) {
    conditions.push(`r.id IN (SELECT resource_id FROM search_reference WHERE resource_type = ${typeParam} AND code = ANY(${p.add(codesForTarget(query.resourceType, c.params, c.type))}::text[])
      AND target_type = ${p.add(c.type)} AND target_id = ${p.add(c.id)})`);
  }
  return conditions;
}

function whereClause(query: SearchQuery, p: Params): string {
  const typeParam = p.add(query.resourceType);
  return whereConditions(query, p, typeParam, liveSource(query, typeParam)).join('\n  AND ');
}

/** Sort key of a rule: a column, or the smallest (ascending) / largest (descending) indexed value. */
function sortExpression(p: Params, resourceType: string, typeParam: string, rule: SortRule): { sql: string; cast: string } {
  if (rule.type === 'id') return { sql: 'r.id', cast: 'text' };
  if (rule.type === 'lastUpdated') return { sql: 'r.last_updated', cast: 'timestamptz' };
  const agg = rule.descending ? 'max' : 'min';
  const [column, cast] = {
    string: ['value', 'text'],
    token: ['value', 'text'],
    reference: ['reference', 'text'],
    uri: ['value', 'text'],
    date: [rule.descending ? 'high' : 'low', 'timestamptz'],
    number: ['low', 'numeric'],
    quantity: ['value', 'numeric'],
  }[rule.type] as [string, string];
  return { sql: `(SELECT ${agg}(s.${column}) FROM ${TABLE_OF[rule.type]} s WHERE s.resource_type = ${typeParam} AND s.resource_id = r.id AND ${codeMatch(p, 's.', resourceType, rule.code)})`, cast };
}

/**
 * Keyset condition: rows strictly after (or before) the cursor in the sort order, nulls last.
 * Sort values come back as text and are cast to the expression's type.
 */
export function cursorCondition(p: Params, keys: Array<{ sql: string; cast: string; descending: boolean }>, cursor: Cursor): string {
  const forward = cursor.direction === 'next';
  const after = (k: { sql: string; cast: string; descending: boolean }, v: string | null): string => {
    const greater = forward !== k.descending ? '>' : '<';
    if (v === null) return forward ? 'false' : `${k.sql} IS NOT NULL`;
    const value = `${p.add(v)}::${k.cast}`;
    return forward ? `(${k.sql} ${greater} ${value} OR ${k.sql} IS NULL)` : `(${k.sql} ${greater} ${value})`;
  };
  const equal = (k: { sql: string; cast: string }, v: string | null) => (v === null ? `${k.sql} IS NULL` : `${k.sql} = ${p.add(v)}::${k.cast}`);
  const values = [...cursor.values, cursor.id];
  const alternatives = keys.map((k, i) => [...keys.slice(0, i).map((prev, j) => equal(prev, values[j] ?? null)), after(k, values[i] ?? null)].join(' AND '));
  return `(${alternatives.map((a) => `(${a})`).join(' OR ')})`;
}

/**
 * The page query: one row more than the page size, to know whether another page exists. Rows
 * carry their sort values (sort_0, sort_1, …) for the next cursor. A `previous` cursor reads
 * backwards; the caller reverses the rows.
 */
export function searchPageSql(query: SearchQuery): SearchSql {
  const p = new Params();
  const typeParam = p.add(query.resourceType); // $1, also in the final join
  const source = pageSource(query, p, typeParam);
  const conditions = whereConditions(query, p, typeParam, source);
  const keys = query.sort.map((rule) => ({ ...sortExpression(p, query.resourceType, typeParam, rule), descending: rule.descending }));
  // The id as the last key makes the order total, so keyset pages neither repeat nor skip rows.
  const allKeys = [...keys, { sql: 'r.id', cast: 'text', descending: false }];
  const backwards = query.cursor?.direction === 'previous';
  const order = allKeys.map((k) => `${k.sql} ${k.descending !== backwards ? 'DESC' : 'ASC'} ${backwards ? 'NULLS FIRST' : 'NULLS LAST'}`);
  if (query.cursor) conditions.push(cursorCondition(p, allKeys, query.cursor));
  const where = conditions.length ? `\n  WHERE ${conditions.join('\n  AND ')}` : '';
  const sortColumns = keys.map((k, i) => `, (${k.sql})::text AS sort_${i}`).join('');
  const sortOut = keys.map((_, i) => `, page.sort_${i}`).join('');
  // The page's ids (and sort keys) first, from the indexes alone where possible; the content of
  // just those rows last, instead of joining the content of every match before the limit.
  const text = `WITH page AS MATERIALIZED (
  SELECT r.id${sortColumns}, row_number() OVER (ORDER BY ${order.join(', ')}) AS n
  FROM ${source.from}${where}
  ORDER BY ${order.join(', ')}
  LIMIT ${p.add(query.count + 1)} OFFSET ${p.add(query.cursor ? 0 : query.offset)}
)
SELECT ${R_VERSION_COLUMNS}${sortOut}
FROM page JOIN fhir_resource r ON r.resource_type = $1 AND r.id = page.id
ORDER BY page.n`;
  return { text, values: p.values };
}

/**
 * The ids of every match, unordered and unpaged, reading no content: for searches an `_id` list
 * bounds (the subscription engine's criteria checks). Much cheaper to plan than the page query.
 */
export function searchIdsSql(query: SearchQuery): SearchSql {
  const p = new Params();
  return { text: `SELECT r.id FROM fhir_resource r WHERE ${whereClause(query, p)}`, values: p.values };
}

export function searchCountSql(query: SearchQuery): SearchSql {
  const p = new Params();
  return { text: `SELECT count(*)::int AS total FROM fhir_resource r WHERE ${whereClause(query, p)}`, values: p.values };
}
