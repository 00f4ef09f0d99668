/**
 * The grammar of one search parameter (http://hl7.org/fhir/R4/search.html): `code[:modifier]`,
 * chains `ref[:Type].param…` (#chaining), reverse chains `_has:Type:ref:param` (#has), composite
 * values `a$b` (#composite), OR values split on `,`, and escaping (#escaping). Each value is
 * checked against its parameter's type here, so bad input is a 400 naming the parameter.
 */
import { errors } from '../errors.ts';
import { isResourceType, searchParameterByUrl, searchParamsFor } from '../definitions.ts';
import type { SearchParamDef } from '../definitions.ts';
import { parseDateRange } from './date-range.ts';
import type { CompositeFilter, FilterType, FilterValue, Prefix, SearchFilter } from './search-query.ts';

const PREFIXES: readonly string[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];
const PREFIXED_TYPES: ReadonlySet<FilterType> = new Set(['date', 'number', 'quantity', 'lastUpdated']);

export const MODIFIERS: Record<FilterType, readonly string[]> = {
  string: ['exact', 'contains', 'missing'],
  token: ['not', 'missing', 'text', 'of-type'],
  reference: ['missing', 'identifier'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['missing', 'below', 'above'],
  id: ['not'],
  lastUpdated: [],
};

/** Raised for a parameter the server does not support; lenient search ignores it and says so. */
export class UnsupportedParameter extends Error {}

/** Splits on an unescaped separator and resolves `\,` `\|` `\$` `\\` (http://hl7.org/fhir/R4/search.html#escaping). */
export function splitEscaped(value: string, separator: string): string[] {
  return splitKeepingEscapes(value, separator).map(unescapeValue);
}

/** Resolves search escapes (`\,` → `,`) in a value that is not split further. */
export function unescapeValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

/** Splits on an unescaped separator but keeps escapes in place for a later split. */
export function splitKeepingEscapes(value: string, separator: string): string[] {
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

/** A decimal search value PostgreSQL's numeric can hold and JavaScript can compare. */
function isSearchNumber(value: string): boolean {
  return NUMBER.test(value) && Number.isFinite(Number(value)) && Math.abs(Number(value.toLowerCase().split('e')[1] ?? 0)) <= 300;
}

export function parseValue(type: FilterType, code: string, raw: string, modifier: string | undefined): FilterValue {
  if (modifier === 'missing') {
    if (raw !== 'true' && raw !== 'false') throw errors.invalidSearch(`${code}:missing takes true or false, got "${raw}"`, [code]);
    return { prefix: 'eq', value: raw, parts: [raw] };
  }
  let prefix: Prefix = 'eq';
  let rest = raw;
  if (PREFIXED_TYPES.has(type) && PREFIXES.includes(raw.slice(0, 2))) {
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
      if (parts.length > (modifier === 'of-type' ? 3 : 2) || (modifier === 'of-type' && parts.length !== 3)) {
        throw errors.invalidSearch(modifier === 'of-type' ? `${code}:of-type takes system|code|value, got "${raw}"` : `${code}: "${raw}" has more than one unescaped "|"`, [code]);
      }
      break;
    case 'id':
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(value)) throw errors.invalidSearch(`_id: "${value}" is not a valid id`, ['_id']);
      break;
  }
  if (value === '' && type !== 'token') throw errors.invalidSearch(`${code} has an empty value`, [code]);
  return { prefix, value, parts };
}

function filterType(def: SearchParamDef | undefined, code: string): FilterType | undefined {
  if (code === '_id') return 'id';
  if (code === '_lastUpdated') return 'lastUpdated';
  if (!def || def.type === 'composite' || def.type === 'special') return undefined;
  return def.type;
}

/** The component types of a composite parameter, when this server can index it (two components, the first a token). */
export function compositeComponents(def: SearchParamDef): Array<{ type: FilterType; expression: string }> | undefined {
  const components = (def.definition.component ?? []).map((c) => {
    const sp = c.definition ? searchParameterByUrl(c.definition) : undefined;
    return sp && sp.type !== 'composite' && sp.type !== 'special' ? { type: sp.type as FilterType, expression: c.expression } : undefined;
  });
  if (components.length !== 2 || components.some((c) => !c) || components[0]!.type !== 'token') return undefined;
  return components as Array<{ type: FilterType; expression: string }>;
}

function parseComposite(def: SearchParamDef, name: string, raw: string, modifier: string | undefined): CompositeFilter {
  if (modifier !== undefined) throw new UnsupportedParameter(`has an unsupported modifier ":${modifier}"`);
  const components = compositeComponents(def);
  if (!components) throw new UnsupportedParameter('is a composite this server does not support');
  const values = splitKeepingEscapes(raw, ',').map((v) => {
    const parts = splitKeepingEscapes(v, '$');
    if (parts.length !== 2) throw errors.invalidSearch(`${name}: "${v}" must have two parts separated by $`, [name]);
    return [parseValue(components[0]!.type, name, parts[0]!, undefined), parseValue(components[1]!.type, name, parts[1]!, undefined)] as [FilterValue, FilterValue];
  });
  return { kind: 'composite', code: def.code, secondType: components[1]!.type, values };
}

/**
 * Parses one `name=value` of a search on `resourceType` into a filter. Throws UnsupportedParameter
 * for what the server does not support, FhirError (400) for malformed values.
 */
export function parseFilter(resourceType: string, name: string, raw: string, depth = 0): SearchFilter {
  if (depth > 4) throw new UnsupportedParameter('chains deeper than 4 levels are not supported');
  if (name.startsWith('_has:')) {
    const [, sourceType, referenceCode, ...rest] = name.split(':');
    if (!sourceType || !isResourceType(sourceType)) throw new UnsupportedParameter(`names an unknown resource type "${sourceType ?? ''}"`);
    const ref = searchParamsFor(sourceType).get(referenceCode ?? '');
    if (!ref || ref.type !== 'reference') throw new UnsupportedParameter(`: ${sourceType} has no reference parameter "${referenceCode ?? ''}"`);
    const targets = ref.definition.target ?? [];
    if (targets.length && !targets.includes(resourceType as never)) throw new UnsupportedParameter(`: ${sourceType}.${referenceCode} does not refer to ${resourceType}`);
    if (!rest.length) throw new UnsupportedParameter('has no parameter after the reference');
    return { kind: 'has', sourceType, referenceCode: referenceCode as string, inner: parseFilter(sourceType, rest.join(':'), raw, depth + 1) };
  }
  const dot = name.indexOf('.');
  const head = dot < 0 ? name : name.slice(0, dot);
  const [code = '', modifier, ...more] = head.split(':');
  if (!code || more.length) throw new UnsupportedParameter('is malformed');
  const def = searchParamsFor(resourceType).get(code);
  if (dot >= 0) {
    if (!def || def.type !== 'reference') throw new UnsupportedParameter(`cannot be chained: "${code}" is not a reference parameter of ${resourceType}`);
    const targets = modifier !== undefined ? [modifier] : ((def.definition.target ?? []) as string[]);
    if (modifier !== undefined && !isResourceType(modifier)) throw new UnsupportedParameter(`has an unknown type modifier ":${modifier}"`);
    const branches: Array<{ targetType: string; inner: SearchFilter }> = [];
    let lastProblem: UnsupportedParameter | undefined;
    for (const targetType of targets) {
      try {
        branches.push({ targetType, inner: parseFilter(targetType, name.slice(dot + 1), raw, depth + 1) });
      } catch (err) {
        if (!(err instanceof UnsupportedParameter)) throw err;
        lastProblem = err;
      }
    }
    if (!branches.length) throw lastProblem ?? new UnsupportedParameter('has no target type to chain into');
    return { kind: 'chain', code, branches };
  }
  if (def?.type === 'composite') return parseComposite(def, name, raw, modifier);
  const type = filterType(def, code);
  if (!type) throw new UnsupportedParameter(def ? `(${def.type}) is not supported` : `is not a search parameter of ${resourceType}`);
  if (modifier !== undefined && !MODIFIERS[type].includes(modifier) && !(type === 'reference' && isResourceType(modifier))) {
    throw new UnsupportedParameter(`has an unsupported modifier ":${modifier}"`);
  }
  const valueType: FilterType = type === 'reference' && modifier === 'identifier' ? 'token' : type;
  const values = (modifier === 'missing' ? [raw] : splitKeepingEscapes(raw, ',')).map((v) => parseValue(valueType, code, v, modifier));
  return { kind: 'param', code, type, modifier, values };
}
