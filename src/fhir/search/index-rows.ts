/**
 * Extracts the search index rows of a resource: for each R4 SearchParameter of its type, the
 * values its FHIRPath expression selects, converted to the typed form each index table stores.
 * Runs on every write, in the write's transaction (docs/architecture.md, decision 6).
 */
import { convertToSearchableNumbers, convertToSearchableQuantities, convertToSearchableUris, evalFhirPathTyped, toTypedValue, typedValueToString } from '@medplum/core';
import type { TypedValue } from '@medplum/core';
import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier, Period, Reference, Resource, Timing } from '@medplum/fhirtypes';
import { searchParamsFor } from '../definitions.ts';
import { parseDateRange } from './date-range.ts';

/**
 * Largest value kept in an index column, in UTF-8 bytes. A B-tree entry is limited to about
 * 2.7 kB (and a token row indexes system and value together); longer values are cut at a
 * character boundary (a search still finds them by prefix; `:exact` on them is approximate).
 */
export const MAX_INDEXED_BYTES = 1000;

export interface IndexRows {
  token: Array<[code: string, system: string | null, value: string | null]>;
  string: Array<[code: string, value: string, raw: string]>;
  date: Array<[code: string, low: string, high: string]>;
  number: Array<[code: string, low: string | null, high: string | null]>;
  quantity: Array<[code: string, system: string | null, unit: string | null, value: string]>;
  reference: Array<[code: string, targetType: string | null, targetId: string | null, reference: string]>;
  uri: Array<[code: string, value: string]>;
}

export type IndexTable = keyof IndexRows;
export const INDEX_TABLES: readonly IndexTable[] = ['token', 'string', 'date', 'number', 'quantity', 'reference', 'uri'];

/** Search parameters answered from columns of fhir_resource rather than an index table. */
const COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export function emptyIndexRows(): IndexRows {
  return { token: [], string: [], date: [], number: [], quantity: [], reference: [], uri: [] };
}

/** Index-safe text: NUL removed (PostgreSQL text cannot hold it) and cut to MAX_INDEXED_BYTES. */
export function cut(value: string): string {
  const s = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
  if (s.length * 3 <= MAX_INDEXED_BYTES) return s; // cannot exceed the limit: the common case, no encoding
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= MAX_INDEXED_BYTES) return s;
  let end = MAX_INDEXED_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // back up to the start of a character
  return bytes.subarray(0, end).toString('utf8');
}

/** Case- and accent-insensitive form used for string search; CJK text passes through unchanged. */
export function normalizeString(value: string): string {
  return value.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

export function parseRelativeReference(reference: string): { type: string; id: string } | undefined {
  const m = RELATIVE_REFERENCE.exec(reference);
  return m ? { type: m[1]!, id: m[2]! } : undefined;
}

function humanNameStrings(name: HumanName): string[] {
  const given = name.given ?? [];
  const out = [name.text, name.family, ...given, ...(name.prefix ?? []), ...(name.suffix ?? [])];
  if (name.family && given.length) {
    // Chinese names are written family-first without a space (张三); Western ones given-first.
    out.push(name.family + given.join(''), `${given.join(' ')} ${name.family}`, `${name.family} ${given.join(' ')}`);
  }
  return out.filter((s): s is string => typeof s === 'string' && s.length > 0);
}

function addressStrings(address: Address): string[] {
  return [address.text, ...(address.line ?? []), address.city, address.district, address.state, address.postalCode, address.country].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  );
}

function stringValues(values: TypedValue[]): string[] {
  const out = new Set<string>();
  for (const tv of values) {
    if (tv.type === 'HumanName') humanNameStrings(tv.value as HumanName).forEach((s) => out.add(s));
    else if (tv.type === 'Address') addressStrings(tv.value as Address).forEach((s) => out.add(s));
    else {
      const s = typeof tv.value === 'string' ? tv.value : typedValueToString(tv);
      if (s) out.add(s);
    }
  }
  return [...out];
}

/**
 * Token (system, value) pairs: Coding and CodeableConcept codings by system|code, Identifier by
 * system|value, ContactPoint by its value (system = phone/email…), and plain code/boolean/string/uri
 * values without a system. Display text is not a token value.
 */
function tokens(values: TypedValue[]): Array<[string | null, string | null]> {
  const out = new Map<string, [string | null, string | null]>();
  const add = (system: string | undefined, value: string | undefined) => {
    if (!system && !value) return;
    const pair: [string | null, string | null] = [system ? cut(system) : null, value ? cut(value) : null];
    out.set(`${pair[0]}|${pair[1]}`, pair);
  };
  for (const tv of values) {
    const v = tv.value as unknown;
    switch (tv.type) {
      case 'CodeableConcept':
        for (const c of (v as CodeableConcept).coding ?? []) add(c.system, c.code);
        break;
      case 'Coding':
        add((v as Coding).system, (v as Coding).code);
        break;
      case 'Identifier':
        add((v as Identifier).system, (v as Identifier).value);
        break;
      case 'ContactPoint':
        add((v as ContactPoint).system, (v as ContactPoint).value);
        break;
      default:
        if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') add(undefined, String(v));
    }
  }
  return [...out.values()];
}

function dateRanges(values: TypedValue[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const fromStrings = (start: string | undefined, end: string | undefined) => {
    const low = start ? parseDateRange(start)?.low : -Infinity;
    const high = end ? parseDateRange(end)?.high : Infinity;
    if (low === undefined || high === undefined) return;
    out.push([low === -Infinity ? '-infinity' : new Date(low).toISOString(), high === Infinity ? 'infinity' : new Date(high).toISOString()]);
  };
  for (const tv of values) {
    if (typeof tv.value === 'string') fromStrings(tv.value, tv.value);
    else if (tv.type === 'Period') {
      const p = tv.value as Period;
      if (p.start || p.end) fromStrings(p.start, p.end);
    } else if (tv.type === 'Timing') {
      for (const event of (tv.value as Timing).event ?? []) fromStrings(event, event);
    }
  }
  return out;
}

function referenceValues(values: TypedValue[]): string[] {
  const out = new Set<string>();
  for (const tv of values) {
    const v = tv.value as unknown;
    if (typeof v === 'string') out.add(v); // canonical
    else if (v && typeof v === 'object' && typeof (v as Reference).reference === 'string') out.add((v as Reference).reference as string);
  }
  return [...out];
}

/** Computes every index row of `resource` for the R4 search parameters of its type. */
export function extractIndexRows(resource: Resource): IndexRows {
  const rows = emptyIndexRows();
  const input = [toTypedValue(resource)];
  for (const param of searchParamsFor(resource.resourceType).values()) {
    if (COLUMN_PARAMS.has(param.code) || param.type === 'composite' || param.type === 'special') continue;
    let values: TypedValue[];
    try {
      values = evalFhirPathTyped(param.details.parsedExpression, input);
    } catch {
      continue; // an expression that does not apply to this instance's shape selects nothing
    }
    if (values.length === 0) continue;
    const code = param.code;
    switch (param.type) {
      case 'token':
        for (const [system, value] of tokens(values)) rows.token.push([code, system, value]);
        break;
      case 'string':
        for (const s of stringValues(values)) rows.string.push([code, cut(normalizeString(s)), cut(s)]);
        break;
      case 'date':
        for (const [low, high] of dateRanges(values)) rows.date.push([code, low, high]);
        break;
      case 'number':
        for (const [low, high] of convertToSearchableNumbers(values)) {
          const finite = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? null : String(n));
          if (finite(low) !== null || finite(high) !== null) rows.number.push([code, finite(low), finite(high)]);
        }
        break;
      case 'quantity':
        for (const q of convertToSearchableQuantities(values)) {
          const unit = q.code ?? q.unit;
          if (typeof q.value === 'number' && Number.isFinite(q.value)) rows.quantity.push([code, q.system ? cut(q.system) : null, unit ? cut(unit) : null, String(q.value)]);
        }
        break;
      case 'reference':
        for (const ref of referenceValues(values)) {
          const target = parseRelativeReference(ref);
          rows.reference.push([code, target?.type ?? null, target?.id ?? null, cut(ref)]);
        }
        break;
      case 'uri':
        for (const u of convertToSearchableUris(values)) rows.uri.push([code, cut(u)]);
        break;
    }
  }
  return rows;
}
