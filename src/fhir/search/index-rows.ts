/**
 * Extracts the search index rows of a resource: for each R4 SearchParameter of its type, the
 * values its FHIRPath expression selects, converted to the typed form each index table stores.
 * Runs on every write, in the write's transaction (docs/architecture.md, decision 6).
 */
import { convertToSearchableNumbers, convertToSearchableQuantities, convertToSearchableUris, evalFhirPathTyped, parseFhirPath, toTypedValue, typedValueToString } from '@medplum/core';
import type { FhirPathAtom, TypedValue } from '@medplum/core';
import type { Address, CodeableConcept, Coding, ContactPoint, HumanName, Identifier, Period, Reference, Resource, Timing } from '@medplum/fhirtypes';
import { searchParamsFor } from '../definitions.ts';
import type { SearchParamDef } from '../definitions.ts';
import { compositeComponents } from './parse-filter.ts';
import { toCanonical, UCUM_SYSTEM } from './ucum.ts';
import { withMemberAccess } from './member-access.ts';
import { parseDateRange } from './date-range.ts';
import { presentElements, rootElements } from './root-elements.ts';
import { referenceSubset } from './typed-references.ts';
import { unionParts } from './union-params.ts';

/**
 * Largest value kept in an index column, in UTF-8 bytes. A B-tree entry is limited to about
 * 2.7 kB (and a token row indexes system and value together); longer values are cut at a
 * character boundary (a search still finds them by prefix; `:exact` on them is approximate).
 */
export const MAX_INDEXED_BYTES = 1000;

export interface IndexRows {
  token: Array<[code: string, system: string | null, value: string | null, display: string | null, type: string | null]>;
  string: Array<[code: string, value: string, raw: string]>;
  date: Array<[code: string, low: string, high: string]>;
  number: Array<[code: string, low: string | null, high: string | null]>;
  quantity: Array<[code: string, system: string | null, unit: string | null, value: string, canonicalUnit: string | null, canonicalValue: string | null]>;
  reference: Array<[code: string, targetType: string | null, targetId: string | null, reference: string]>;
  uri: Array<[code: string, value: string]>;
  composite: Array<
    [code: string, c1System: string | null, c1Value: string | null, c2System: string | null, c2Value: string | null, c2Number: string | null, c2Low: string | null, c2High: string | null]
  >;
}

export type IndexTable = keyof IndexRows;
export const INDEX_TABLES: readonly IndexTable[] = ['token', 'string', 'date', 'number', 'quantity', 'reference', 'uri', 'composite'];

/** Search parameters answered from columns of fhir_resource rather than an index table. */
const COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

export function emptyIndexRows(): IndexRows {
  return { token: [], string: [], date: [], number: [], quantity: [], reference: [], uri: [], composite: [] };
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

type TokenRow = [system: string | null, value: string | null, display: string | null, type: string | null];

/**
 * Token rows: Coding and CodeableConcept codings by system|code, Identifier by system|value,
 * ContactPoint by its value (system = phone/email…), plain code/boolean/string/uri values without
 * a system. Display text (Coding.display, CodeableConcept.text, Identifier.type.text) goes to the
 * display column for `:text`, never into the value; Identifier.type codings to the type column
 * for `:of-type`.
 */
function tokens(values: TypedValue[]): TokenRow[] {
  const out = new Map<string, TokenRow>();
  const add = (system: string | undefined, value: string | undefined, display?: string, type?: string) => {
    if (!system && !value && !display) return;
    const row: TokenRow = [system ? cut(system) : null, value ? cut(value) : null, display ? cut(normalizeString(display)) : null, type ? cut(type) : null];
    out.set(JSON.stringify(row), row);
  };
  for (const tv of values) {
    const v = tv.value as unknown;
    switch (tv.type) {
      case 'CodeableConcept': {
        const cc = v as CodeableConcept;
        for (const c of cc.coding ?? []) add(c.system, c.code, c.display ?? cc.text);
        // The concept's own text, when no coding already carries it as its display.
        if (cc.text && !cc.coding?.some((c) => (c.display ?? cc.text) === cc.text)) add(undefined, undefined, cc.text);
        break;
      }
      case 'Coding':
        add((v as Coding).system, (v as Coding).code, (v as Coding).display);
        break;
      case 'Identifier': {
        const id = v as Identifier;
        const types = (id.type?.coding ?? []).filter((c) => c.system && c.code).map((c) => `${c.system}|${c.code}`);
        if (!types.length) add(id.system, id.value, id.type?.text);
        for (const t of types) add(id.system, id.value, id.type?.text, t);
        break;
      }
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

/** Logical references (Reference.identifier), indexed as tokens under `code:identifier` for the `:identifier` modifier. */
function referenceIdentifiers(values: TypedValue[]): Identifier[] {
  return values.map((tv) => (tv.value as Reference | undefined)?.identifier).filter((i): i is Identifier => !!i && !!(i.system || i.value));
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

const rootsOf = new WeakMap<SearchParamDef, string[] | null>();

/** Whether `param` may select something from a resource with these top-level elements (root-elements.ts). */
function mayApply(param: SearchParamDef, resourceType: string, present: ReadonlySet<string>): boolean {
  let roots = rootsOf.get(param);
  if (roots === undefined) {
    roots = rootElements(param.type === 'composite' ? compositeBase(param) : param.expression, resourceType) ?? null;
    rootsOf.set(param, roots);
  }
  return roots === null || roots.some((r) => present.has(r));
}

/** Computes every index row of `resource` for the R4 search parameters of its type. */
export function extractIndexRows(resource: Resource): IndexRows {
  const rows = emptyIndexRows();
  const input = [toTypedValue(resource)];
  const present = presentElements(resource);
  // Reference parameters whose rows are another's rows of one target type (typed-references.ts),
  // and the parameters that selected references carrying an identifier.
  const subsets: Array<{ param: SearchParamDef; of: string }> = [];
  const withIdentifiers = new Set<string>();
  for (const param of searchParamsFor(resource.resourceType).values()) {
    if (COLUMN_PARAMS.has(param.code) || param.type === 'special') continue;
    if (unionParts(resource.resourceType, param.code)) continue; // its parts' rows are its rows (union-params.ts)
    if (!mayApply(param, resource.resourceType, present)) continue;
    const subset = param.type === 'reference' ? referenceSubset(resource.resourceType, param.code) : undefined;
    if (subset) {
      subsets.push({ param, of: subset.code });
      continue;
    }
    if (param.type === 'composite') {
      addCompositeRows(rows, param, input);
      continue;
    }
    let values: TypedValue[];
    try {
      values = evalFhirPathTyped(withMemberAccess(param.expression), input);
    } catch {
      continue; // an expression that does not apply to this instance's shape selects nothing
    }
    if (values.length === 0) continue;
    const code = param.code;
    switch (param.type) {
      case 'token':
        for (const t of tokens(values)) rows.token.push([code, ...t]);
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
          if (typeof q.value !== 'number' || !Number.isFinite(q.value)) continue;
          const canonical = q.system === UCUM_SYSTEM && q.code ? toCanonical(q.value, q.code) : undefined;
          rows.quantity.push([code, q.system ? cut(q.system) : null, unit ? cut(unit) : null, String(q.value), canonical?.unit ?? null, canonical ? String(canonical.value) : null]);
        }
        break;
      case 'reference':
        for (const ref of referenceValues(values)) {
          const target = parseRelativeReference(ref);
          rows.reference.push([code, target?.type ?? null, target?.id ?? null, cut(ref)]);
        }
        if (addIdentifierRows(rows, code, values)) withIdentifiers.add(code);
        break;
      case 'uri':
        for (const u of convertToSearchableUris(values)) rows.uri.push([code, cut(u)]);
        break;
    }
  }
  // A subset stores only its `:identifier` rows, and has some only if its superset has.
  for (const { param, of } of subsets) {
    if (!withIdentifiers.has(of)) continue;
    try {
      addIdentifierRows(rows, param.code, evalFhirPathTyped(withMemberAccess(param.expression), input));
    } catch {
      // selects nothing here
    }
  }
  return rows;
}

/** The `code:identifier` token rows of the logical references among `values`; whether there were any. */
function addIdentifierRows(rows: IndexRows, code: string, values: TypedValue[]): boolean {
  const before = rows.token.length;
  for (const id of referenceIdentifiers(values)) rows.token.push([`${code}:identifier`, id.system ? cut(id.system) : null, id.value ? cut(id.value) : null, null, null]);
  return rows.token.length > before;
}

const parsedComponents = new Map<string, Array<{ type: string; atom: FhirPathAtom }> | null>();
const parsedCompositeBases = new Map<string, FhirPathAtom>();

/**
 * The composite's own expression, parsed whole. Not the per-type expression: that drops a bare
 * `Observation` branch of `Observation | Observation.component` (the combo-* parameters).
 */
function compositeBase(param: SearchParamDef): FhirPathAtom {
  const key = param.definition.url ?? param.code;
  let atom = parsedCompositeBases.get(key);
  if (!atom) {
    atom = param.definition.expression ? parseFhirPath(param.definition.expression) : param.expression;
    parsedCompositeBases.set(key, atom);
  }
  return atom;
}

/** The parsed component expressions of a composite this server indexes (token + one other), cached. */
function componentsOf(param: SearchParamDef): Array<{ type: string; atom: FhirPathAtom }> | null {
  const key = param.definition.url ?? param.code;
  let parsed = parsedComponents.get(key);
  if (parsed === undefined) {
    const components = compositeComponents(param);
    parsed = components ? components.map((c) => ({ type: c.type, atom: parseFhirPath(c.expression) })) : null;
    parsedComponents.set(key, parsed);
  }
  return parsed;
}

/** One row per (element, first-component token, second-component value) of a composite parameter. */
function addCompositeRows(rows: IndexRows, param: SearchParamDef, input: TypedValue[]): void {
  const components = componentsOf(param);
  if (!components) return;
  let elements: TypedValue[];
  try {
    elements = evalFhirPathTyped(withMemberAccess(compositeBase(param)), input);
  } catch {
    return;
  }
  const [first, second] = components as [{ type: string; atom: FhirPathAtom }, { type: string; atom: FhirPathAtom }];
  for (const element of elements) {
    let a: TypedValue[];
    let b: TypedValue[];
    try {
      a = evalFhirPathTyped(withMemberAccess(first.atom), [element]);
      b = evalFhirPathTyped(withMemberAccess(second.atom), [element]);
    } catch {
      continue;
    }
    const firstTokens = tokens(a).filter(([system, value]) => system || value);
    const seconds: Array<[string | null, string | null, string | null, string | null, string | null]> = [];
    switch (second.type) {
      case 'token':
        for (const [system, value] of tokens(b)) if (system || value) seconds.push([system, value, null, null, null]);
        break;
      case 'quantity':
        for (const q of convertToSearchableQuantities(b)) {
          if (typeof q.value === 'number' && Number.isFinite(q.value)) seconds.push([q.system ? cut(q.system) : null, (q.code ?? q.unit) ? cut((q.code ?? q.unit) as string) : null, String(q.value), null, null]);
        }
        break;
      case 'number':
        for (const [low] of convertToSearchableNumbers(b)) if (low !== undefined && Number.isFinite(low)) seconds.push([null, null, String(low), null, null]);
        break;
      case 'date':
        for (const [low, high] of dateRanges(b)) seconds.push([null, null, null, low, high]);
        break;
      case 'string':
        for (const text of stringValues(b)) seconds.push([null, cut(normalizeString(text)), null, null, null]);
        break;
      default:
        for (const ref of [...referenceValues(b), ...convertToSearchableUris(b)]) seconds.push([null, cut(ref), null, null, null]);
    }
    for (const [s1, v1] of firstTokens) for (const c2 of seconds) rows.composite.push([param.code, s1, v1, ...c2]);
  }
}
