/**
 * Maps a FhirRequest to its interaction (http://hl7.org/fhir/R4/http.html, summary table).
 * Used by the HTTP server and by batch/transaction entries alike.
 */
import { errors } from '../errors.ts';
import { isResourceType } from '../definitions.ts';
import type { FhirRequest, FhirResponse, RestContext } from './fhir-request.ts';
import { bundle } from './interactions/bundle.ts';
import { capabilityStatementJson } from './interactions/capabilities.ts';
import type { ServerInfo } from './interactions/capabilities.ts';
import { conditionalDelete } from './interactions/conditional-delete.ts';
import { conditionalUpdate } from './interactions/conditional-update.ts';
import { create } from './interactions/create.ts';
import { deleteInteraction } from './interactions/delete.ts';
import { everything } from './interactions/everything.ts';
import { history } from './interactions/history.ts';
import { patch } from './interactions/patch.ts';
import { read } from './interactions/read.ts';
import { queueReindexOperation, reindexStatusOperation } from './interactions/reindex.ts';
import type { ReindexService } from './interactions/reindex.ts';
import { search } from './interactions/search.ts';
import { translateOperation } from './interactions/translate.ts';
import { update } from './interactions/update.ts';
import { validateOperation } from './interactions/validate.ts';
import { vread } from './interactions/vread.ts';

export interface Routed {
  /** The interaction's name from the spec (`read`, `search-type`, …), for metrics and logs. */
  interaction: string;
  resourceType: string | undefined;
  run: () => Promise<FhirResponse> | FhirResponse;
}

export interface RouterContext extends RestContext {
  server: ServerInfo;
  reindex: ReindexService;
}

function formParams(body: unknown): URLSearchParams {
  if (body instanceof URLSearchParams) return body;
  if (typeof body === 'string') return new URLSearchParams(body);
  if (body === undefined || body === null) return new URLSearchParams();
  if (typeof body === 'object' && !Array.isArray(body)) {
    return new URLSearchParams(Object.entries(body as Record<string, unknown>).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x): [string, string] => [k, String(x)])));
  }
  throw errors.invalidSearch('POST _search takes application/x-www-form-urlencoded parameters');
}

/** Finds the interaction for a request; throws 404/405 OperationOutcomes for what does not exist. */
export function route(ctx: RouterContext, req: FhirRequest): Routed {
  const [a, b, c, d, ...rest] = req.segments;
  const m = req.method === 'HEAD' ? 'GET' : req.method;
  const notAllowed = () => errors.methodNotAllowed(req.method, `/${req.segments.join('/')}`);
  if (rest.length) throw errors.unknownPath(`/fhir/${req.segments.join('/')}`);

  if (a === undefined) {
    if (m !== 'POST') throw notAllowed();
    return { interaction: 'batch/transaction', resourceType: undefined, run: () => bundle(ctx, req) };
  }
  if (a === 'metadata' && b === undefined) {
    if (m !== 'GET') throw notAllowed();
    return { interaction: 'capabilities', resourceType: undefined, run: () => ({ status: 200, body: capabilityStatementJson(ctx.baseUrl, ctx.server) }) };
  }
  if (a === '$reindex') {
    if (b === undefined) {
      if (m !== 'POST') throw notAllowed();
      return { interaction: 'reindex', resourceType: undefined, run: () => queueReindexOperation(ctx, ctx.reindex, req) };
    }
    if (c !== undefined) throw errors.unknownPath(`/fhir/${req.segments.join('/')}`);
    if (m !== 'GET') throw notAllowed();
    return { interaction: 'reindex-status', resourceType: undefined, run: () => reindexStatusOperation(ctx.reindex, b) };
  }
  if (a === '_history' && b === undefined) {
    if (m !== 'GET') throw notAllowed();
    return { interaction: 'history-system', resourceType: undefined, run: () => history(ctx, req) };
  }
  const systemOperation = b === undefined ? ctx.server.operations?.find((o) => o.resourceType === 'system' && `$${o.name}` === a) : undefined;
  if (systemOperation) {
    if (!systemOperation.methods.includes(m as 'GET')) throw notAllowed();
    return { interaction: systemOperation.name, resourceType: undefined, run: () => systemOperation.run(ctx, req, undefined) };
  }
  if (!isResourceType(a)) throw errors.unknownType(a);
  const type = a;
  const at = (interaction: string, run: Routed['run']): Routed => ({ interaction, resourceType: type, run });

  if (b === undefined) {
    switch (m) {
      case 'GET':
        return at('search-type', () => search(ctx, req, type, req.query));
      case 'POST':
        return at('create', () => create(ctx, req, type));
      case 'PUT':
        return at('conditional-update', () => conditionalUpdate(ctx, req, type));
      case 'DELETE':
        return at('conditional-delete', () => conditionalDelete(ctx, req, type));
      default:
        throw notAllowed();
    }
  }
  if (b === '_search' && c === undefined) {
    if (m !== 'POST') throw notAllowed();
    return at('search-type', () => search(ctx, req, type, new URLSearchParams([...req.query, ...formParams(req.body)])));
  }
  if (b === '_history' && c === undefined) {
    if (m !== 'GET') throw notAllowed();
    return at('history-type', () => history(ctx, req, type));
  }
  if (b === '$reindex' && c === undefined) {
    if (m !== 'POST') throw notAllowed();
    return at('reindex', () => queueReindexOperation(ctx, ctx.reindex, req, type));
  }
  if (b === '$validate' && c === undefined) {
    if (m !== 'POST') throw notAllowed();
    return at('validate', () => validateOperation(req, type));
  }
  if (type === 'ConceptMap' && b === '$translate' && c === undefined) {
    if (m !== 'GET' && m !== 'POST') throw notAllowed();
    return at('translate', () => translateOperation(ctx, req));
  }
  const extra = (name: string, level: 'typeLevel' | 'instanceLevel') => ctx.server.operations?.find((o) => o.resourceType === type && `$${o.name}` === name && o[level]);
  const typeOperation = c === undefined ? extra(b, 'typeLevel') : undefined;
  if (typeOperation) {
    if (!typeOperation.methods.includes(m as 'GET')) throw notAllowed();
    return at(typeOperation.name, () => typeOperation.run(ctx, req, undefined));
  }
  if (b.startsWith('$') || b.startsWith('_')) throw errors.unsupportedOperation(`${b} is not supported on ${type}`);
  const id = b;
  if (c === undefined) {
    switch (m) {
      case 'GET':
        return at('read', () => read(ctx, req, type, id));
      case 'PUT':
        return at('update', () => update(ctx, req, type, id));
      case 'PATCH':
        return at('patch', () => patch(ctx, req, type, id));
      case 'DELETE':
        return at('delete', () => deleteInteraction(ctx, req, type, id));
      default:
        throw notAllowed();
    }
  }
  if (c === '_history') {
    if (m !== 'GET') throw notAllowed();
    return d === undefined ? at('history-instance', () => history(ctx, req, type, id)) : at('vread', () => vread(ctx, type, id, d));
  }
  if (type === 'Patient' && c === '$everything' && d === undefined) {
    if (m !== 'GET' && m !== 'POST') throw notAllowed();
    return at('everything', () => everything(ctx, req, id));
  }
  if (type === 'ConceptMap' && c === '$translate' && d === undefined) {
    if (m !== 'GET' && m !== 'POST') throw notAllowed();
    return at('translate', () => translateOperation(ctx, req, id));
  }
  if (c !== undefined && d === undefined && isResourceType(c)) {
    if (m !== 'GET') throw notAllowed();
    return { interaction: 'search-compartment', resourceType: c, run: () => search(ctx, req, c, req.query, { type, id }) };
  }
  if (c === '$validate' && d === undefined) {
    if (m !== 'POST') throw notAllowed();
    return at('validate', () => validateOperation(req, type));
  }
  const instanceOperation = d === undefined ? extra(c, 'instanceLevel') : undefined;
  if (instanceOperation) {
    if (!instanceOperation.methods.includes(m as 'GET')) throw notAllowed();
    return at(instanceOperation.name, () => instanceOperation.run(ctx, req, id));
  }
  throw errors.unknownPath(`/fhir/${req.segments.join('/')}`);
}
