/**
 * transaction — all entries succeed together or nothing is written
 * (http://hl7.org/fhir/R4/http.html#trules). Processing order per the spec: DELETE, POST,
 * PUT/PATCH, then GET. Ids are assigned first, references rewritten (in the request's own parsed
 * body), and every write then goes to the store in one statement; PATCH and GET entries run after
 * the writes, so they see the transaction's own results.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.ts';
import { labelled } from '../../store/pg-fhir-store.ts';
import type { PlannedWrite, StoredVersion, WriteOutcome } from '../../store/fhir-store.ts';
import { responseBundleJson } from '../bundle-json.ts';
import type { FhirRequest, FhirResponse } from '../fhir-request.ts';
import { returnPreference } from '../fhir-request.ts';
import { informational, parseIfMatch } from '../responses.ts';
import { route } from '../router.ts';
import type { RouterContext } from '../router.ts';
import { entryRequest, responseEntryJson } from './bundle-entry.ts';
import { ifNoneExistParams } from './create.ts';
import { resourceBody } from './body.ts';
import { rewriteReferences } from './references.ts';
import { patch as patchInteraction } from './patch.ts';

const ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

interface Planned {
  index: number;
  where: string;
  request: FhirRequest;
  entry: BundleEntry;
  /** Set when the entry writes. */
  write?: PlannedWrite;
  /** Set when a conditional create or delete found it has nothing to do. */
  result?: FhirResponse;
}

function targetOf(p: Planned, what: string): { type: string; id: string | undefined } {
  const [type, id, ...rest] = p.request.segments;
  if (!type || rest.length) throw errors.invalidBundle(`${p.where}: ${p.request.method} ${p.request.segments.join('/')} is not a valid ${what} URL`, [`${p.where}.request.url`]);
  return { type, id };
}

/** Phase 1: decide what each write entry does, assigning ids; records fullUrl → Type/id. */
async function plan(ctx: RouterContext, p: Planned, ids: Map<string, string>): Promise<void> {
  const tx = ctx.store;
  const { method, query } = p.request;
  const mapFullUrl = (type: string, id: string) => {
    if (p.entry.fullUrl) ids.set(p.entry.fullUrl, `${type}/${id}`);
  };
  if (method === 'DELETE') {
    const { type, id } = targetOf(p, 'delete');
    const target = id ?? (await tx.findConditional(type, query, `${p.where}: conditional delete`))?.id;
    if (!target) {
      p.result = { status: 204, outcome: informational(`No ${type} matched; nothing was deleted`) };
      return;
    }
    p.write = { kind: 'delete', resourceType: type, id: target, ifMatch: parseIfMatch(p.request.ifMatch), label: p.where };
  } else if (method === 'POST') {
    const { type, id } = targetOf(p, 'create');
    if (id !== undefined) throw errors.invalidBundle(`${p.where}: POST must target a resource type, not ${type}/${id}`);
    const resource = resourceBody(p.request.body, type);
    const ifNoneExist = ifNoneExistParams(p.request.ifNoneExist);
    const existing: StoredVersion | undefined = ifNoneExist && (await tx.findConditional(type, ifNoneExist, `${p.where}: ifNoneExist`));
    if (existing) {
      mapFullUrl(type, existing.id);
      p.result = { status: 200, version: existing, outcome: informational(`A matching ${type} exists (ifNoneExist); nothing was created`) };
      return;
    }
    const newId = randomUUID();
    mapFullUrl(type, newId);
    p.write = { kind: 'create', resource: { ...resource, id: newId }, label: p.where };
  } else if (method === 'PUT') {
    const { type, id } = targetOf(p, 'update');
    const resource = resourceBody(p.request.body, type);
    let target = id;
    if (target === undefined) {
      target = (await tx.findConditional(type, query, `${p.where}: conditional update`))?.id ?? resource.id ?? randomUUID();
    }
    if (resource.id !== undefined && resource.id !== target) throw errors.idMismatch(target, resource.id);
    mapFullUrl(type, target);
    p.write = { kind: 'update', resource: { ...resource, id: target }, ifMatch: parseIfMatch(p.request.ifMatch), label: p.where };
  }
}

function writeResult(ctx: RouterContext, req: FhirRequest, result: WriteOutcome): FhirResponse {
  const v = result.version;
  const status = result.outcome === 'created' ? 201 : 200;
  if (result.outcome === 'deleted' || v.deleted) return { status: 204, version: v };
  return { status, version: v, body: returnPreference(req.prefer) === 'minimal' ? undefined : (v.content ?? undefined) };
}

export async function transaction(ctx: RouterContext, req: FhirRequest, bundle: Bundle): Promise<FhirResponse> {
  const entries = bundle.entry ?? [];
  const planned: Planned[] = entries.map((entry, index) => {
    const request = entryRequest(ctx, entry ?? {}, index, req.prefer);
    if (request.segments.length === 0) throw errors.invalidBundle(`Bundle.entry[${index}]: a transaction cannot contain another batch or transaction`);
    return { index, where: `Bundle.entry[${index}]`, request, entry: entry ?? {} };
  });
  const fullUrls = new Set<string>();
  for (const p of planned) {
    if (p.entry.fullUrl && fullUrls.has(p.entry.fullUrl)) throw errors.invalidBundle(`${p.where}: fullUrl ${p.entry.fullUrl} appears more than once`);
    if (p.entry.fullUrl) fullUrls.add(p.entry.fullUrl);
  }
  const ordered = [...planned].sort((x, y) => (ORDER[x.request.method] ?? 9) - (ORDER[y.request.method] ?? 9) || x.index - y.index);

  const responses = await ctx.store.transaction(async (tx) => {
    const txCtx: RouterContext = { ...ctx, store: tx };
    const ids = new Map<string, string>();
    for (const p of ordered) {
      try {
        await plan(txCtx, p, ids);
      } catch (err) {
        throw labelled(err, p.where);
      }
    }
    for (const p of ordered) {
      if (p.write && p.write.kind !== 'delete') await rewriteReferences(p.write.resource, ids, tx, p.where).catch((err: unknown) => Promise.reject(labelled(err, p.where)));
    }
    const writes = ordered.filter((p) => p.write);
    const outcomes = await tx.applyWrites(writes.map((p) => p.write as PlannedWrite));
    writes.forEach((p, i) => (p.result = writeResult(txCtx, p.request, outcomes[i] as WriteOutcome)));
    for (const p of ordered) {
      if (p.result) continue;
      try {
        p.result = p.request.method === 'PATCH' ? await patchEntry(txCtx, p) : await route(txCtx, p.request).run();
      } catch (err) {
        throw labelled(err, p.where);
      }
    }
    return planned.map((p) => responseEntryJson(ctx, p.result as FhirResponse));
  });
  return { status: 200, body: responseBundleJson('transaction-response', responses) };
}

async function patchEntry(ctx: RouterContext, p: Planned): Promise<FhirResponse> {
  const { type, id } = targetOf(p, 'patch');
  if (id === undefined) throw errors.invalidBundle(`${p.where}: PATCH must target Type/id`);
  const body = p.entry.resource as Resource | undefined;
  // In a Bundle a JSON Patch travels as a Binary (http://hl7.org/fhir/R4/http.html#patch).
  let patchBody: unknown = body;
  if (body?.resourceType === 'Binary' && body.data) {
    try {
      patchBody = JSON.parse(Buffer.from(body.data, 'base64').toString('utf8'));
    } catch {
      throw errors.invalidPatch(`${p.where}: the Binary's data is not a JSON Patch document`);
    }
  }
  return patchInteraction(ctx, { ...p.request, body: patchBody, contentType: Array.isArray(patchBody) ? 'application/json-patch+json' : 'application/fhir+json' }, type, id);
}
