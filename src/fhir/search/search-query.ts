/**
 * A parsed FHIR search (http://hl7.org/fhir/R4/search.html): the filters (AND across parameters,
 * OR across comma-separated values), paging and result parameters. Parsing checks every value
 * against its parameter's type so that bad input is a 400 with a clear message, never a SQL error.
 */
import { errors, issue } from '../errors.ts';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { isResourceType, searchParamsFor } from '../definitions.ts';
import type { SearchParamType } from '../definitions.ts';
import type { StoredVersion } from '../store/fhir-store.ts';
import { parseDateRange } from './date-range.ts';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 1000;

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';
const PREFIXES: readonly string[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

export type FilterType = Exclude<SearchParamType, 'composite' | 'special'> | 'id' | 'lastUpdated';

export interface FilterValue {
  prefix: Prefix;
  /** The value with the prefix removed and escapes resolved (for token/quantity: before splitting on `|`). */
  value: string;
  /** Token/quantity parts split on unescaped `|`, escapes resolved. */
  parts: string[];
}

export interface SearchFilter {
  code: string;
  type: FilterType;
  modifier: string | undefined;
  values: FilterValue[];
}

export interface SortRule {
  code: '_id' | '_lastUpdated';
  descending: boolean;
}

export interface SearchQuery {
  resourceType: string;
  filters: SearchFilter[];
  sort: SortRule[];
  count: number;
  offset: number;
  total: 'none' | 'estimate' | 'accurate' | undefined;
  /** `_summary=count`: only the total. */
  summaryCount: boolean;
  /** Parameters ignored under lenient handling, reported back in the Bundle. */
  ignored: OperationOutcomeIssue[];
}

export interface SearchResult {
  versions: StoredVersion[];
  total: number | undefined;
  /** A further page exists. */
  hasMore: boolean;
}

/** Parameter types this search engine answers (composite and special are not yet supported). */
export const SUPPORTED_SEARCH_TYPES: ReadonlySet<string> = new Set(['number', 'date', 'string', 'token', 'reference', 'quantity', 'uri']);

const MODIFIERS: Record<FilterType, readonly string[]> = {
  string: ['exact', 'contains', 'missing'],
  token: ['not', 'missing'],
  reference: ['missing'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['missing', 'below', 'above'],
  id: ['not'],
  lastUpdated: [],
};

/** Result and control parameters this search understands; others starting with `_` are reported. */
const CONTROL_PARAMS = new Set(['_count', '_offset', '_sort', '_total', '_summary', '_format', '_pretty']);

/** Splits on an unescaped separator and resolves `\,` `\|` `\$` `\\` (http://hl7.org/fhir/R4/search.html#escaping). */
export function splitEscaped(value: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length) {
      current += value[i + 1];
      i++;
    } else if (ch === separator) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

/** Resolves search escapes (`\,` → `,`) in a value that is not split further. */
export function unescapeValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Splits on an unescaped separator but keeps escapes in place for a later split. */
function splitKeepingEscapes(value: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length) {
      current += ch + value[i + 1];
      i++;
    } else if (ch === separator) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A decimal search value PostgreSQL's numeric can hold (|x| < 1e131072, finite in JS). */
function isSearchNumber(value: string): boolean {
  return NUMBER.test(value) && Number.isFinite(Number(value)) && Math.abs(Number(value.toLowerCase().split('e')[1] ?? 0)) <= 300;
}

function parseValue(type: FilterType, code: string, raw: string, modifier: string | undefined): FilterValue {
  if (modifier === 'missing') {
    if (raw !== 'true' && raw !== 'false') throw errors.invalidSearch(`${code}:missing takes true or false, got "${raw}"`, [code]);
    return { prefix: 'eq', value: raw, parts: [raw] };
  }
  let prefix: Prefix = 'eq';
  let rest = raw;
  if ((type === 'date' || type === 'number' || type === 'quantity' || type === 'lastUpdated') && PREFIXES.includes(raw.slice(0, 2)) && !/^\d/.test(raw.slice(0, 2))) {
    prefix = raw.slice(0, 2) as Prefix;
    rest = raw.slice(2);
  }
  const parts = splitEscaped(rest, '|');
  const value = unescapeValue(rest);
  switch (type) {
    case 'date':
    case 'lastUpdated':
      if (!parseDateRange(value)) throw errors.invalidSearch(`${code}: "${value}" is not a valid date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)`, [code]);
      break;
    case 'number':
      if (!isSearchNumber(value)) throw errors.invalidSearch(`${code}: "${value}" is not a number in range`, [code]);
      break;
    case 'quantity':
      if (parts.length > 3 || !isSearchNumber(parts[0] ?? '')) throw errors.invalidSearch(`${code}: "${raw}" is not [prefix]number[|system|code]`, [code]);
      break;
    case 'token':
      if (parts.length > 2) throw errors.invalidSearch(`${code}: "${raw}" has more than one unescaped "|"`, [code]);
      break;
    case 'id':
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(value)) throw errors.invalidSearch(`_id: "${value}" is not a valid id`, ['_id']);
      break;
  }
  if (value === '' && type !== 'token') throw errors.invalidSearch(`${code} has an empty value`, [code]);
  return { prefix, value, parts };
}

function positiveInt(name: string, raw: string, max: number): number {
  if (!/^\d+$/.test(raw)) throw errors.invalidSearch(`${name} must be a non-negative integer, got "${raw}"`, [name]);
  return Math.min(Number(raw), max);
}

/**
 * Parses search parameters for `resourceType`. Unknown or unsupported parameters are ignored and
 * listed in `ignored` (lenient), or rejected with 400 when `strict` (Prefer: handling=strict).
 */
export function parseSearchQuery(resourceType: string, params: URLSearchParams, strict = false): SearchQuery {
  if (!isResourceType(resourceType)) throw errors.unknownType(resourceType);
  const defs = searchParamsFor(resourceType);
  const query: SearchQuery = { resourceType, filters: [], sort: [], count: DEFAULT_PAGE_SIZE, offset: 0, total: undefined, summaryCount: false, ignored: [] };
  const ignore = (name: string, why: string) => {
    if (strict) throw errors.unknownSearchParameter(name, why);
    query.ignored.push(issue('not-supported', undefined, `Search parameter "${name}" ${why}; it was ignored`, [name], 'warning'));
  };
  for (const [name, raw] of params) {
    if (name.includes('\u0000') || raw.includes('\u0000')) throw errors.invalidSearch(`Search parameter "${name.replaceAll('\u0000', '')}" contains a NUL character`);
    if (CONTROL_PARAMS.has(name)) {
      switch (name) {
        case '_count':
          query.count = positiveInt(name, raw, MAX_PAGE_SIZE);
          break;
        case '_offset':
          query.offset = positiveInt(name, raw, 10_000_000);
          break;
        case '_total':
          if (raw !== 'none' && raw !== 'estimate' && raw !== 'accurate') throw errors.invalidSearch(`_total must be none, estimate or accurate, got "${raw}"`, ['_total']);
          query.total = raw;
          break;
        case '_summary':
          if (raw === 'count') query.summaryCount = true;
          else if (raw !== 'false') ignore(`_summary=${raw}`, 'is not supported');
          break;
        case '_sort':
          for (const key of raw.split(',')) {
            const descending = key.startsWith('-');
            const code = descending ? key.slice(1) : key;
            if (code === '_id' || code === '_lastUpdated') query.sort.push({ code, descending });
            else ignore(`_sort=${key}`, 'is not supported for sorting');
          }
          break;
      }
      continue;
    }
    const [code, modifier, ...more] = name.split(':');
    if (!code || more.length || code.includes('.')) {
      ignore(name, 'is not supported (chained or malformed)');
      continue;
    }
    let type: FilterType;
    if (code === '_id') type = 'id';
    else if (code === '_lastUpdated') type = 'lastUpdated';
    else {
      const def = defs.get(code);
      if (!def) {
        ignore(name, `is not a search parameter of ${resourceType}`);
        continue;
      }
      if (def.type === 'composite' || def.type === 'special') {
        ignore(name, `(${def.type}) is not supported`);
        continue;
      }
      type = def.type;
    }
    if (modifier !== undefined && !MODIFIERS[type].includes(modifier)) {
      // A resource type as modifier on a reference restricts the target type.
      if (!(type === 'reference' && isResourceType(modifier))) {
        ignore(name, `has an unsupported modifier ":${modifier}"`);
        continue;
      }
    }
    const values = (modifier === 'missing' ? [raw] : splitKeepingEscapes(raw, ',')).map((v) => parseValue(type, code, v, modifier));
    query.filters.push({ code, type, modifier, values });
  }
  return query;
}
