/**
 * capabilities — GET [base]/metadata (http://hl7.org/fhir/R4/http.html#capabilities).
 * Generated from what this server really does: every resource type with the same interactions,
 * its search parameters as the search engine supports them, and the operations registered.
 */
import type { CapabilityStatement, CapabilityStatementRestResource, Extension, ResourceType } from '@medplum/fhirtypes';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { allResourceTypes, FHIR_VERSION, searchParameterGeneration, searchParamsFor } from '../../definitions.ts';
import { compositeComponents } from '../../search/parse-filter.ts';
import { SUPPORTED_SEARCH_TYPES } from '../../search/search-query.ts';

export interface ServerInfo {
  name: string;
  version: string;
  startedAt: string;
  /** Path of the classic subscription websocket (advertised with the capabilitystatement-websocket extension). */
  websocketPath?: string;
  /** Operations other modules serve (e.g. Subscription/$status), routed and advertised like the FHIR module's own. */
  operations?: readonly ExtraOperation[];
  /** Extensions on a resource type's CapabilityStatement entry (e.g. the subscription topics served). */
  resourceExtensions?: Readonly<Record<string, Extension[]>>;
}

/**
 * An operation served by another module: `[base]/{resourceType}/$name` and/or
 * `[base]/{resourceType}/{id}/$name`, or, with `resourceType: 'system'`, `[base]/$name`.
 */
export interface ExtraOperation {
  resourceType: string | 'system';
  /** Without the `$`. */
  name: string;
  definition: string;
  typeLevel: boolean;
  instanceLevel: boolean;
  methods: ReadonlyArray<'GET' | 'POST'>;
  run: (ctx: RestContext, req: FhirRequest, id: string | undefined) => Promise<FhirResponse>;
}

/** ws(s)://host/path for a FHIR base http(s)://host/fhir. */
function websocketUrl(baseUrl: string, path: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = path;
  return url.toString();
}

const INTERACTIONS: CapabilityStatementRestResource['interaction'] = [
  'read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type',
].map((code) => ({ code: code as 'read' }));

function resourceEntry(type: string, info: ServerInfo): CapabilityStatementRestResource {
  const params = [...searchParamsFor(type).values()].filter((p) => SUPPORTED_SEARCH_TYPES.has(p.type) && (p.type !== 'composite' || compositeComponents(p)));
  const searchParam = params.map((p) => ({ name: p.code, definition: p.definition.url, type: p.type, ...(p.definition.description ? { documentation: p.definition.description } : {}) }));
  const references = params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`);
  const revIncludes = allResourceTypes().flatMap((source) =>
    [...searchParamsFor(source).values()].filter((p) => p.type === 'reference' && (!p.definition.target?.length || p.definition.target.includes(type as never))).map((p) => `${source}:${p.code}`),
  );
  const operation = [
    { name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' },
    { name: 'reindex', definition: 'https://carebridge.dev/fhir/OperationDefinition/reindex' },
    ...(type === 'Patient' ? [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }] : []),
    ...(type === 'ConceptMap' ? [{ name: 'translate', definition: 'http://hl7.org/fhir/OperationDefinition/ConceptMap-translate' }] : []),
    ...(info.operations ?? []).filter((o) => o.resourceType === type).map((o) => ({ name: o.name, definition: o.definition })),
  ];
  const extension = info.resourceExtensions?.[type];
  return {
    ...(extension?.length ? { extension } : {}),
    type: type as ResourceType,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: INTERACTIONS,
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'full-support',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    referencePolicy: ['literal', 'logical'],
    searchInclude: ['*', ...references],
    searchRevInclude: revIncludes,
    searchParam,
    operation,
  };
}

let cached: { key: string; json: string } | undefined;

export function capabilityStatementJson(baseUrl: string, info: ServerInfo): string {
  const key = `${baseUrl} ${info.startedAt} ${searchParameterGeneration()}`;
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
        ...(info.websocketPath ? { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket', valueUri: websocketUrl(baseUrl, info.websocketPath) }] } : {}),
        resource: allResourceTypes().map((type) => resourceEntry(type, info)),
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }],
        compartment: ['http://hl7.org/fhir/CompartmentDefinition/patient'],
        operation: [
          { name: 'reindex', definition: 'https://carebridge.dev/fhir/OperationDefinition/reindex' },
          ...(info.operations ?? []).filter((o) => o.resourceType === 'system').map((o) => ({ name: o.name, definition: o.definition })),
        ],
        searchParam: [
          { name: '_count', type: 'number', documentation: 'Page size (default 20, maximum 1000)' },
          { name: '_sort', type: 'string', documentation: 'Any search parameter of the type, comma-separated, - for descending' },
          { name: '_total', type: 'token', documentation: 'none | estimate | accurate' },
          { name: '_summary', type: 'token', documentation: 'true | text | data | count | false' },
          { name: '_elements', type: 'string', documentation: 'Top-level elements to return' },
          { name: '_include', type: 'string', documentation: 'Source:param[:Target], *, and :iterate' },
          { name: '_revinclude', type: 'string', documentation: 'Source:param[:Target], and :iterate' },
          { name: '_has', type: 'string', documentation: 'Reverse chaining, nestable' },
        ],
      },
    ],
  };
  cached = { key, json: JSON.stringify(statement) };
  return cached.json;
}
