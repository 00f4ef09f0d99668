/**
 * ConceptMap/$translate — [base]/ConceptMap/$translate and [base]/ConceptMap/[id]/$translate
 * (http://hl7.org/fhir/R4/conceptmap-operation-translate.html), usable without HTTP: the HL7 v2
 * mapping calls `translate(store, …)` to turn a hospital's local codes into standard ones.
 *
 * Which maps (the spec leaves the choice to the server when none is named):
 * - on an instance, that ConceptMap, whatever its status (the client named it exactly);
 * - with `url` (and `conceptMapVersion`), the current ConceptMap with that url (and version);
 * - otherwise every ConceptMap with a group from the input's system (`source-system`, or
 *   `target-system` in reverse), narrowed by `source`/`target` value sets.
 * Maps with status `retired` are only used when named by id: draft and active maps are used, as
 * local mapping tables are often put into service as drafts, and `unknown` is not a reason to
 * refuse them. Several resources sharing a url are versions of one map; without
 * `conceptMapVersion` the most recently updated is used.
 *
 * Maps are read from the store on every call, never cached, so an updated ConceptMap takes effect
 * at once (mappings change without a restart).
 */
import type { ConceptMap } from '@medplum/fhirtypes';
import { errors } from '../errors.ts';
import { MAX_PAGE_SIZE, parseSearchQuery } from '../search/search-query.ts';
import type { FhirStore, StoredVersion } from '../store/fhir-store.ts';
import { canonicalOf, checkTranslateParams, inputCodings, latestPerUrl, translateWithMaps } from './translate-maps.ts';
import type { TranslateParams, TranslateResult } from './translate-maps.ts';

export { translateWithMaps } from './translate-maps.ts';
export type { MapResolver, TranslateMatch, TranslateParams, TranslateResult } from './translate-maps.ts';

/** Distinct maps followed through `other-map` rules per call, against runaway chains. */
const MAX_OTHER_MAPS = 50;

const parse = (v: StoredVersion): ConceptMap => JSON.parse(v.content as string) as ConceptMap;
const usable = (m: ConceptMap): boolean => m.status !== 'retired';
/** A search value with the characters search syntax gives meaning to escaped (http://hl7.org/fhir/R4/search.html#escaping). */
const escape = (value: string): string => value.replace(/[\\,$|]/g, (c) => `\\${c}`);

/** Every current ConceptMap matching the search, all pages. */
async function searchMaps(store: FhirStore, params: Array<[string, string]>): Promise<ConceptMap[]> {
  const query = parseSearchQuery('ConceptMap', new URLSearchParams([...params, ['_count', String(MAX_PAGE_SIZE)]]), true);
  const maps: ConceptMap[] = [];
  for (;;) {
    const page = await store.search(query);
    maps.push(...page.versions.map(parse));
    if (!page.next) return maps;
    query.cursor = page.next;
  }
}

/** The current, usable ConceptMap with this url (and version), or undefined. */
async function mapByUrl(store: FhirStore, url: string, version?: string): Promise<ConceptMap | undefined> {
  const params: Array<[string, string]> = [['url', escape(url)]];
  if (version !== undefined) params.push(['version', escape(version)]);
  return latestPerUrl((await searchMaps(store, params)).filter(usable))[0];
}

async function candidateMaps(store: FhirStore, params: TranslateParams): Promise<ConceptMap[]> {
  if (params.conceptMapId !== undefined) {
    const map = parse(await store.read('ConceptMap', params.conceptMapId));
    if (params.url !== undefined && map.url !== params.url) {
      throw errors.invalidOperationParameter(`url "${params.url}" is not the url of ConceptMap/${params.conceptMapId} ("${map.url ?? ''}")`, ['url']);
    }
    if (params.conceptMapVersion !== undefined && map.version !== params.conceptMapVersion) {
      throw errors.invalidOperationParameter(`ConceptMap/${params.conceptMapId} is version "${map.version ?? ''}", not "${params.conceptMapVersion}"`, ['conceptMapVersion']);
    }
    return [map];
  }
  if (params.url !== undefined) {
    const map = await mapByUrl(store, params.url, params.conceptMapVersion);
    if (!map) throw errors.notFoundByUrl('ConceptMap', params.url, params.conceptMapVersion);
    return [map];
  }
  const systems = [...new Set(inputCodings(params).map((c) => c.system as string))];
  const maps = await searchMaps(store, [[params.reverse ? 'target-system' : 'source-system', systems.map(escape).join(',')]]);
  return latestPerUrl(maps.filter(usable));
}

/** The maps `other-map` rules reach from `maps`, transitively, by canonical. */
async function otherMaps(store: FhirStore, maps: readonly ConceptMap[]): Promise<Map<string, ConceptMap>> {
  const found = new Map<string, ConceptMap>();
  const tried = new Set<string>();
  const pending = [...maps];
  for (let map = pending.pop(); map; map = pending.pop()) {
    for (const group of map.group ?? []) {
      const url = group.unmapped?.mode === 'other-map' ? group.unmapped.url : undefined;
      if (!url || tried.has(url) || tried.size >= MAX_OTHER_MAPS) continue;
      tried.add(url);
      const [base = url, version] = url.split('|');
      const other = maps.find((m) => canonicalOf(m) === base && (version === undefined || m.version === version)) ?? (await mapByUrl(store, base, version));
      if (other) {
        found.set(url, other);
        pending.push(other);
      }
    }
  }
  return found;
}

/** Translates a code, Coding or CodeableConcept with the ConceptMaps in the store. */
export async function translate(store: FhirStore, params: TranslateParams): Promise<TranslateResult> {
  checkTranslateParams(params);
  const maps = await candidateMaps(store, params);
  const others = await otherMaps(store, maps);
  return translateWithMaps(maps, params, (canonical) => others.get(canonical));
}
