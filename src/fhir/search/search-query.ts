/**
 * A parsed FHIR search (http://hl7.org/fhir/R4/search.html): filters (AND across parameters, OR
 * across comma-separated values), sort, paging, includes and result parameters. Parsing checks
 * every value against its parameter's type so that bad input is a 400 with a clear message,
 * never a SQL error.
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isResourceType, searchParamsFor } from '../definitions.ts';
import type { SearchParamType } from '../definitions.ts';
import { errors, issue } from '../errors.ts';
import type { StoredVersion } from '../store/fhir-store.ts';
import { parseFilter, UnsupportedParameter } from './parse-filter.ts';

export { splitEscaped, unescapeValue } from './parse-filter.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 1000;

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

export type FilterType = Exclude<SearchParamType, 'composite' | 'special'> | 'id' | 'lastUpdated';

/** Parameter types this search engine answers; composites when they have a token and one other component. */
export const SUPPORTED_SEARCH_TYPES: ReadonlySet<string> = new Set(['number', 'date', 'string', 'token', 'reference', 'quantity', 'uri', 'composite']);

export interface FilterValue {
  prefix: Prefix;
  /** The value with the prefix removed and escapes resolved. */
  value: string;
  /** Token/quantity parts split on unescaped `|`, escapes resolved. */
  parts: string[];
}

/** `code[:modifier]=v1,v2` on the resource itself. */
export interface ParamFilter {
  kind: 'param';
  code: string;
  type: FilterType;
  modifier: string | undefined;
  values: FilterValue[];
}

/** `ref[:Type].rest` — resources whose reference `code` points at a target matching `inner`. */
export interface ChainFilter {
  kind: 'chain';
  code: string;
  branches: Array<{ targetType: string; inner: SearchFilter }>;
}

/** `_has:Source:ref:rest` — resources referred to by a `sourceType` resource (via `referenceCode`) matching `inner`. */
export interface HasFilter {
  kind: 'has';
  sourceType: string;
  referenceCode: string;
  inner: SearchFilter;
}

/** `code=token$value` on a composite parameter. */
export interface CompositeFilter {
  kind: 'composite';
  code: string;
  secondType: FilterType;
  values: Array<[FilterValue, FilterValue]>;
}

export type SearchFilter = ParamFilter | ChainFilter | HasFilter | CompositeFilter;

export interface SortRule {
  code: string;
  type: FilterType;
  descending: boolean;
}

export interface IncludeRule {
  /** `_revinclude`: resources of sourceType that refer to the results. */
  reverse: boolean;
  iterate: boolean;
  sourceType: string;
  /** A reference parameter of sourceType, or `*` for all of them. */
  code: string;
  targetType: string | undefined;
}

export type Summary = 'true' | 'text' | 'data' | 'count' | 'false';

/** Keyset position of a page: the sort values and id of the row it continues from. */
export interface Cursor {
  direction: 'next' | 'previous';
  values: Array<string | null>;
  id: string;
}

export interface SearchQuery {
  resourceType: string;
  filters: SearchFilter[];
  sort: SortRule[];
  count: number;
  offset: number;
  cursor: Cursor | undefined;
  total: 'none' | 'estimate' | 'accurate' | undefined;
  summary: Summary | undefined;
  elements: string[] | undefined;
  include: IncludeRule[];
  /** Compartment search (`Patient/123/Observation`): only resources in that compartment. */
  compartment: { type: string; id: string; params: string[] } | undefined;
  /** Parameters ignored under lenient handling, reported back in the Bundle. */
  ignored: OperationOutcomeIssue[];
}

export interface SearchResult {
  versions: StoredVersion[];
  /** `_include`/`_revinclude` results, distinct from the matches. */
  included: StoredVersion[];
  total: number | undefined;
  /** Cursor of the next page, when there is one. */
  next: Cursor | undefined;
  /** Cursor of the previous page, when there is one. */
  previous: Cursor | undefined;
  /** Warnings produced while searching (e.g. includes cut at their limit). */
  warnings: OperationOutcomeIssue[];
}

/** Result and control parameters; other names starting with `_` are filters or are reported. */
const CONTROL_PARAMS = new Set(['_count', '_offset', '_cursor', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_include:iterate', '_revinclude:iterate', '_format', '_pretty']);

function positiveInt(name: string, raw: string, max: number): number {
  if (!/^\d+$/.test(raw)) throw errors.invalidSearch(`${name} must be a non-negative integer, got "${raw}"`, [name]);
  return Math.min(Number(raw), max);
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.direction === 'next' ? 'n' : 'p', cursor.values, cursor.id])).toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const [d, values, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as [string, Array<string | null>, string];
    if ((d === 'n' || d === 'p') && Array.isArray(values) && values.every((v) => v === null || typeof v === 'string') && typeof id === 'string') {
      return { direction: d === 'n' ? 'next' : 'previous', values, id };
    }
  } catch {
    // fall through
  }
  throw errors.invalidSearch('_cursor is not a cursor this server issued; follow the Bundle links', ['_cursor']);
}

const SORT_VALUE_PATTERNS: Partial<Record<FilterType, RegExp>> = {
  // timestamptz as PostgreSQL prints it (and ISO 8601), or ±infinity
  date: /^(-?infinity|\d{4,}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)?)$/,
  lastUpdated: /^\d{4,}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)?$/,
  number: /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/,
  quantity: /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/,
};

/** A cursor must carry one value per sort key, each of its key's type (it is cast in SQL). */
function checkCursor(query: SearchQuery): void {
  const cursor = query.cursor;
  if (!cursor) return;
  const fits = cursor.values.length === query.sort.length && cursor.values.every((v, i) => v === null || (SORT_VALUE_PATTERNS[query.sort[i]!.type]?.test(v) ?? true));
  if (!fits || !/^[A-Za-z0-9\-.]{1,64}$/.test(cursor.id)) throw errors.invalidSearch('_cursor does not fit this search; follow the Bundle links', ['_cursor']);
}

function sortType(resourceType: string, code: string): FilterType | undefined {
  if (code === '_id') return 'id';
  if (code === '_lastUpdated') return 'lastUpdated';
  const def = searchParamsFor(resourceType).get(code);
  return def && def.type !== 'composite' && def.type !== 'special' ? def.type : undefined;
}

function parseInclude(resourceType: string, name: string, raw: string): IncludeRule {
  const reverse = name.startsWith('_revinclude');
  const iterate = name.endsWith(':iterate');
  if (raw === '*') return { reverse, iterate, sourceType: reverse ? '*' : resourceType, code: '*', targetType: undefined };
  const [sourceType = '', code = '', targetType, ...more] = raw.split(':');
  if (!isResourceType(sourceType) || more.length) throw new UnsupportedParameter(`names an unknown resource type "${sourceType}"`);
  if (code !== '*') {
    const def = searchParamsFor(sourceType).get(code);
    if (!def || def.type !== 'reference') throw new UnsupportedParameter(`: ${sourceType} has no reference parameter "${code}"`);
  }
  if (targetType !== undefined && !isResourceType(targetType)) throw new UnsupportedParameter(`names an unknown target type "${targetType}"`);
  if (!iterate && !reverse && sourceType !== resourceType) throw new UnsupportedParameter(`must start with ${resourceType} (or use _include:iterate)`);
  return { reverse, iterate, sourceType, code, targetType };
}

function parseControl(query: SearchQuery, name: string, raw: string, ignore: (name: string, why: string) => void): void {
  switch (name) {
    case '_count':
      query.count = positiveInt(name, raw, MAX_PAGE_SIZE);
      break;
    case '_offset':
      query.offset = positiveInt(name, raw, 10_000_000);
      break;
    case '_cursor':
      query.cursor = decodeCursor(raw);
      break;
    case '_total':
      if (raw !== 'none' && raw !== 'estimate' && raw !== 'accurate') throw errors.invalidSearch(`_total must be none, estimate or accurate, got "${raw}"`, ['_total']);
      query.total = raw;
      break;
    case '_summary':
      if (!['true', 'text', 'data', 'count', 'false'].includes(raw)) throw errors.invalidSearch(`_summary must be true, text, data, count or false, got "${raw}"`, ['_summary']);
      query.summary = raw as Summary;
      break;
    case '_elements':
      query.elements = [...(query.elements ?? []), ...raw.split(',').map((e) => e.trim()).filter(Boolean)];
      break;
    case '_sort':
      for (const key of raw.split(',')) {
        const descending = key.startsWith('-');
        const code = descending ? key.slice(1) : key;
        const type = sortType(query.resourceType, code);
        if (type) query.sort.push({ code, type, descending });
        else ignore(`_sort=${key}`, `is not a sortable parameter of ${query.resourceType}`);
      }
      break;
    case '_include':
    case '_revinclude':
    case '_include:iterate':
    case '_revinclude:iterate':
      try {
        query.include.push(parseInclude(query.resourceType, name, raw));
      } catch (err) {
        if (!(err instanceof UnsupportedParameter)) throw err;
        ignore(`${name}=${raw}`, err.message);
      }
      break;
  }
}

/**
 * Parses search parameters for `resourceType`. Unknown or unsupported parameters are ignored and
 * listed in `ignored` (lenient), or rejected with 400 when `strict` (Prefer: handling=strict).
 */
export function parseSearchQuery(resourceType: string, params: URLSearchParams, strict = false): SearchQuery {
  if (!isResourceType(resourceType)) throw errors.unknownType(resourceType);
  const query: SearchQuery = {
    resourceType,
    filters: [],
    sort: [],
    count: DEFAULT_PAGE_SIZE,
    offset: 0,
    cursor: undefined,
    total: undefined,
    summary: undefined,
    elements: undefined,
    include: [],
    compartment: undefined,
    ignored: [],
  };
  const ignore = (name: string, why: string) => {
    if (strict) throw errors.unknownSearchParameter(name, why);
    query.ignored.push(issue('not-supported', undefined, `Search parameter "${name}" ${why}; it was ignored`, [name], 'warning'));
  };
  for (const [name, raw] of params) {
    if (name.includes('\u0000') || raw.includes('\u0000')) throw errors.invalidSearch(`Search parameter "${name.replaceAll('\u0000', '')}" contains a NUL character`);
    if (CONTROL_PARAMS.has(name)) {
      parseControl(query, name, raw, ignore);
      continue;
    }
    try {
      query.filters.push(parseFilter(resourceType, name, raw));
    } catch (err) {
      if (!(err instanceof UnsupportedParameter)) throw err;
      ignore(name, err.message);
    }
  }
  checkCursor(query);
  return query;
}
