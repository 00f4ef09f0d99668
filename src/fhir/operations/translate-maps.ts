/**
 * The pure core of ConceptMap/$translate (http://hl7.org/fhir/R4/conceptmap-operation-translate.html):
 * given the ConceptMaps to use, translate a code, Coding or CodeableConcept. No storage here —
 * `translate.ts` finds the maps in the store and calls `translateWithMaps`.
 *
 * Semantics (http://hl7.org/fhir/R4/conceptmap.html, #mappings and #unmapped):
 * - A group applies when its `source` is the input's system (a group without `source` applies to
 *   any system), its `sourceVersion` does not contradict the input's version, and, with
 *   `targetsystem`, its `target` is that system.
 * - Every `element.target` of the input code is a match with its equivalence
 *   (http://hl7.org/fhir/R4/valueset-concept-map-equivalence.html). `result` is true when some
 *   match is neither `unmatched` nor `disjoint`.
 * - `group.unmapped` applies when the group has no element with targets for the code (an explicit
 *   `unmatched` target is an answer, so it does not). R4 gives the fallback no equivalence (R5
 *   added `unmapped.relationship`); we report `provided` as `equal` (the code is carried across
 *   unchanged) and `fixed` as `inexact` (a catch-all code, not the same meaning). `other-map`
 *   follows the map at `unmapped.url`, once per map (a cycle ends there, with a message).
 * - `reverse` maps target → source: a group applies when its `target` is the input's system,
 *   each element with a target of the input code is a match, and the equivalence is read from
 *   the other side (wider ↔ narrower, subsumes ↔ specializes). `provided` and `other-map` apply
 *   in reverse too; `fixed` does not (a catch-all target cannot be inverted).
 * - `dependsOn` and `product` are not evaluated (the `dependency` input is not supported).
 */
import type { CodeableConcept, Coding, ConceptMap, ConceptMapGroup } from '@medplum/fhirtypes';
import { errors } from '../errors.ts';

export interface TranslateParams {
  /** Canonical url of the ConceptMap to use. */
  url?: string;
  /** With `url`: that business version of the map. */
  conceptMapVersion?: string;
  /** The map's id, when invoked on an instance (`ConceptMap/[id]/$translate`). */
  conceptMapId?: string;
  /** With `code`: its code system, and the system's version. */
  system?: string;
  version?: string;
  code?: string;
  coding?: Coding;
  codeableConcept?: CodeableConcept;
  /** Value set the concept was chosen from (used to pick maps when none is named). */
  source?: string;
  /** Value set a translation is sought in (used to pick maps when none is named). */
  target?: string;
  /** Only translations into this code system. */
  targetsystem?: string;
  /** Translate from the maps' targets to their sources. */
  reverse?: boolean;
}

export interface TranslateMatch {
  /** R4 ConceptMapEquivalence code. */
  equivalence: string;
  concept: Coding;
  /** Canonical url of the ConceptMap that gave the match (`ConceptMap/[id]` when it has none). */
  source: string;
}

export interface TranslateResult {
  result: boolean;
  /** Why nothing matched, or hints (an unresolvable other-map…). */
  message?: string;
  matches: TranslateMatch[];
}

/** Finds the ConceptMap an `unmapped.url` (a canonical, possibly `url|version`) names. */
export type MapResolver = (canonical: string) => ConceptMap | undefined;

/** Equivalences that say there is no translation. */
const NO_MATCH = new Set(['unmatched', 'disjoint']);
/** Read from the target's side, a target wider than the source means the source is narrower. */
const REVERSED: Readonly<Record<string, string>> = { wider: 'narrower', narrower: 'wider', subsumes: 'specializes', specializes: 'subsumes' };

const STRING_PARAMS = ['url', 'conceptMapVersion', 'conceptMapId', 'system', 'version', 'code', 'source', 'target', 'targetsystem'] as const;

const present = (s: string | undefined): s is string => typeof s === 'string' && s.length > 0;

/**
 * Checks the inputs (400 naming the parameter): exactly one of code, coding, codeableConcept;
 * a code needs its system (the spec: "If a code is provided, a system must be provided").
 */
export function checkTranslateParams(params: TranslateParams): void {
  for (const name of STRING_PARAMS) if (params[name] === '') throw errors.invalidOperationParameter(`${name} is empty`, [name]);
  const given = (['code', 'coding', 'codeableConcept'] as const).filter((k) => params[k] !== undefined);
  if (given.length === 0) throw errors.invalidOperationParameter('$translate needs the concept to translate: code (with system), coding or codeableConcept', ['code']);
  if (given.length > 1) throw errors.invalidOperationParameter(`$translate takes one of code, coding or codeableConcept; got ${given.join(' and ')}, which is ambiguous`, given);
  if (params.code !== undefined) {
    if (!present(params.system)) throw errors.invalidOperationParameter('system is required with code', ['system']);
  } else if (params.system !== undefined || params.version !== undefined) {
    const name = params.system !== undefined ? 'system' : 'version';
    throw errors.invalidOperationParameter(`${name} goes with code; ${given[0]} carries its own`, [name]);
  }
  if (params.coding) {
    if (!present(params.coding.code)) throw errors.invalidOperationParameter('coding has no code', ['coding.code']);
    if (!present(params.coding.system)) throw errors.invalidOperationParameter('coding has no system', ['coding.system']);
  }
  if (params.codeableConcept && !params.codeableConcept.coding?.some((c) => present(c.system) && present(c.code))) {
    throw errors.invalidOperationParameter('codeableConcept has no coding with both system and code', ['codeableConcept.coding']);
  }
  if (params.conceptMapVersion !== undefined && params.url === undefined) {
    throw errors.invalidOperationParameter('conceptMapVersion goes with url', ['conceptMapVersion']);
  }
}

/** The codings to translate, in input order (a CodeableConcept's codings each in turn). */
export function inputCodings(params: TranslateParams): Coding[] {
  if (params.code !== undefined) return [{ system: params.system, version: params.version, code: params.code }];
  if (params.coding) return [params.coding];
  return (params.codeableConcept?.coding ?? []).filter((c) => present(c.system) && present(c.code));
}

export const canonicalOf = (map: ConceptMap): string => map.url ?? `ConceptMap/${map.id}`;

const stripVersion = (canonical: string): string => canonical.split('|')[0] as string;
const sameCanonical = (a: string | undefined, b: string): boolean => a !== undefined && (a === b || stripVersion(a) === stripVersion(b));

/**
 * Whether a map fits the `source`/`target` value sets asked for (when no map was named). In
 * reverse the map's target value set is where the input concept comes from.
 */
export function fitsValueSets(map: ConceptMap, params: TranslateParams): boolean {
  const mapSource = map.sourceUri ?? map.sourceCanonical;
  const mapTarget = map.targetUri ?? map.targetCanonical;
  const [from, to] = params.reverse ? [mapTarget, mapSource] : [mapSource, mapTarget];
  return (params.source === undefined || sameCanonical(from, params.source)) && (params.target === undefined || sameCanonical(to, params.target));
}

/** Of several current resources sharing a url (versions), the most recently updated one. */
export function latestPerUrl(maps: readonly ConceptMap[]): ConceptMap[] {
  const byUrl = new Map<string, ConceptMap>();
  const updated = (m: ConceptMap) => Date.parse(m.meta?.lastUpdated ?? '') || 0;
  for (const map of maps) {
    const key = canonicalOf(map);
    const seen = byUrl.get(key);
    if (!seen || updated(map) > updated(seen)) byUrl.set(key, map);
  }
  return [...byUrl.values()];
}

interface Walk {
  params: TranslateParams;
  resolve: MapResolver;
  /** Canonicals of the maps this walk has entered, against other-map cycles. */
  visited: Set<string>;
  notes: string[];
}

function groupApplies(group: ConceptMapGroup, coding: Coding, params: TranslateParams): boolean {
  const [from, fromVersion, to] = params.reverse ? [group.target, group.targetVersion, group.source] : [group.source, group.sourceVersion, group.target];
  if (from !== undefined && from !== coding.system) return false;
  if (fromVersion !== undefined && coding.version !== undefined && fromVersion !== coding.version) return false;
  return params.targetsystem === undefined || to === params.targetsystem;
}

function groupMatches(map: ConceptMap, group: ConceptMapGroup, coding: Coding, walk: Walk): TranslateMatch[] {
  const source = canonicalOf(map);
  const out: TranslateMatch[] = [];
  if (walk.params.reverse) {
    for (const element of group.element ?? []) {
      for (const target of element.target ?? []) {
        if (target.code !== coding.code) continue;
        const equivalence = target.equivalence ?? 'equivalent';
        out.push({ equivalence: REVERSED[equivalence] ?? equivalence, concept: concept(group.source, group.sourceVersion, element.code, element.display), source });
      }
    }
  } else {
    for (const element of group.element ?? []) {
      if (element.code !== coding.code) continue;
      for (const target of element.target ?? []) {
        out.push({ equivalence: target.equivalence ?? 'equivalent', concept: concept(group.target, group.targetVersion, target.code, target.display), source });
      }
    }
  }
  return out.length ? out : unmapped(map, group, coding, walk);
}

/** group.unmapped (http://hl7.org/fhir/R4/conceptmap-definitions.html#ConceptMap.group.unmapped). */
function unmapped(map: ConceptMap, group: ConceptMapGroup, coding: Coding, walk: Walk): TranslateMatch[] {
  const rule = group.unmapped;
  const to = walk.params.reverse ? [group.source, group.sourceVersion] as const : [group.target, group.targetVersion] as const;
  switch (rule?.mode) {
    case 'provided':
      return [{ equivalence: 'equal', concept: concept(to[0], to[1], coding.code, coding.display), source: canonicalOf(map) }];
    case 'fixed':
      return walk.params.reverse || !rule.code ? [] : [{ equivalence: 'inexact', concept: concept(to[0], to[1], rule.code, rule.display), source: canonicalOf(map) }];
    case 'other-map': {
      if (!rule.url) return [];
      const other = walk.resolve(rule.url);
      if (!other) {
        walk.notes.push(`${canonicalOf(map)} defers unmapped codes to ${rule.url}, which is not known`);
        return [];
      }
      return mapMatches(other, coding, walk);
    }
    default:
      return [];
  }
}

function mapMatches(map: ConceptMap, coding: Coding, walk: Walk): TranslateMatch[] {
  const key = canonicalOf(map);
  if (walk.visited.has(key)) {
    walk.notes.push(`${key} is reached again through other-map; the cycle was not followed`);
    return [];
  }
  walk.visited.add(key);
  try {
    return (map.group ?? []).filter((g) => groupApplies(g, coding, walk.params)).flatMap((g) => groupMatches(map, g, coding, walk));
  } finally {
    walk.visited.delete(key); // a cycle is a path that revisits a map; two branches may share one
  }
}

function concept(system: string | undefined, version: string | undefined, code: string | undefined, display: string | undefined): Coding {
  const c: Coding = {};
  if (system !== undefined) c.system = system;
  if (version !== undefined) c.version = version;
  if (code !== undefined) c.code = code;
  if (display !== undefined) c.display = display;
  return c;
}

const label = (c: Coding) => `${c.system ?? ''}|${c.code ?? ''}`;

/**
 * Translates with the given maps. When no map is named (`url`/`conceptMapId`), maps that do not
 * fit `source`/`target` are skipped. `resolve` finds the maps `other-map` rules point to.
 */
export function translateWithMaps(maps: readonly ConceptMap[], params: TranslateParams, resolve: MapResolver = () => undefined): TranslateResult {
  checkTranslateParams(params);
  const named = params.url !== undefined || params.conceptMapId !== undefined;
  const usable = named ? maps : maps.filter((m) => fitsValueSets(m, params));
  const walk: Walk = { params, resolve, visited: new Set(), notes: [] };
  const codings = inputCodings(params);
  const seen = new Set<string>();
  const matches: TranslateMatch[] = [];
  for (const coding of codings) {
    for (const map of usable) {
      for (const m of mapMatches(map, coding, walk)) {
        const key = JSON.stringify([m.equivalence, m.concept.system, m.concept.code, m.source]);
        if (!seen.has(key)) {
          seen.add(key);
          matches.push(m);
        }
      }
    }
  }
  const result = matches.some((m) => !NO_MATCH.has(m.equivalence));
  const notes = [...new Set(walk.notes)];
  if (!result) {
    const what = codings.map(label).join(', ');
    const why = usable.length === 0 ? `no ConceptMap ${named ? 'fits' : 'translates'} from ${what}${params.targetsystem ? ` to ${params.targetsystem}` : ''}` : `no mapping for ${what}`;
    notes.unshift(`${why[0]!.toUpperCase()}${why.slice(1)}${matches.length ? ' (only unmatched or disjoint targets)' : ''}`);
  }
  return { result, ...(notes.length ? { message: notes.join('; ') } : {}), matches };
}
