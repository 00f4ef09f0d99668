/**
 * capabilities — GET [base]/metadata (http://hl7.org/fhir/R4/http.html#capabilities).
 * Generated from what this server really does: every resource type with the same interactions,
 * its search parameters as the search engine supports them, and the operations registered.
 */
import type { CapabilityStatement, CapabilityStatementRestResource, ResourceType } from '@medplum/fhirtypes';
import { allResourceTypes, FHIR_VERSION, searchParamsFor } from '../../definitions.ts';
import { SUPPORTED_SEARCH_TYPES } from '../../search/search-query.ts';

export interface ServerInfo {
  name: string;
  version: string;
  startedAt: string;
}

const INTERACTIONS: CapabilityStatementRestResource['interaction'] = [
  'read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type',
].map((code) => ({ code: code as 'read' }));

function resourceEntry(type: string): CapabilityStatementRestResource {
  const searchParam = [...searchParamsFor(type).values()]
    .filter((p) => SUPPORTED_SEARCH_TYPES.has(p.type) || p.code === '_id' || p.code === '_lastUpdated')
    .map((p) => ({ name: p.code, definition: p.definition.url, type: p.type, ...(p.definition.description ? { documentation: p.definition.description } : {}) }));
  return {
    type: type as ResourceType,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: INTERACTIONS,
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'not-supported',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    referencePolicy: ['literal', 'logical'],
    searchParam,
    operation: [{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }],
  };
}

let cached: { key: string; json: string } | undefined;

export function capabilityStatementJson(baseUrl: string, info: ServerInfo): string {
  const key = `${baseUrl} ${info.startedAt}`;
  if (cached?.key === key) return cached.json;
  const statement: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: info.startedAt,
    publisher: 'CareBridge',
    kind: 'instance',
    software: { name: info.name, version: info.version },
    implementation: { description: 'CareBridge FHIR R4 server', url: baseUrl },
    fhirVersion: FHIR_VERSION as '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        resource: allResourceTypes().map(resourceEntry),
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        searchParam: [
          { name: '_count', type: 'number', documentation: `Page size (default 20, maximum 1000)` },
          { name: '_offset', type: 'number', documentation: 'Index of the first result of the page' },
          { name: '_sort', type: 'string', documentation: '_id and _lastUpdated, ascending or with - descending' },
          { name: '_total', type: 'token', documentation: 'none | estimate | accurate' },
          { name: '_summary', type: 'token', documentation: 'count' },
        ],
      },
    ],
  };
  cached = { key, json: JSON.stringify(statement) };
  return cached.json;
}
