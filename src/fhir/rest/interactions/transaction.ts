/**
 * transaction — all entries succeed together or nothing is written
 * (http://hl7.org/fhir/R4/http.html#trules).
 *
 * Steps, per the spec's processing rules:
 * 1. DELETE entries are resolved and written first, so later conditions no longer see them.
 * 2. POST and PUT entries are resolved (ifNoneExist and conditional-update searches, ids
 *    assigned), fullUrl references (`urn:uuid:…`) and conditional references rewritten in the
 *    request's own parsed bodies, and all of them written in one statement.
 * 3. Every condition resolved in step 2 is searched again: if it now matches a resource other
 *    than the one it resolved to (two entries creating the same identity), the transaction fails.
 * 4. PATCH, then GET entries run, seeing the transaction's own writes.
 * No two entries may touch the same resource (resolved identities included).
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { isResourceType } from '../../definitions.ts';
import { isValidId } from '../../validation.ts';
import { ErrorCode, errors, FhirError } from '../../errors.ts';
import { labelled } from '../../store/pg-fhir-store.ts';
import type { FhirStore, PlannedWrite, StoredVersion, WriteOutcome } from '../../store/fhir-store.ts';
import { newResourceId } from '../../store/resource-id.ts';
import { responseBundleJson } from '../bundle-json.ts';
import type { FhirRequest, FhirResponse } from '../fhir-request.ts';
import { returnPreference } from '../fhir-request.ts';
import { informational, parseIfMatch } from '../responses.ts';
import { route } from '../router.ts';
import type { RouterContext } from '../router.ts';
import { entryRequest, responseEntryJson } from './bundle-entry.ts';
import { resourceBody } from './body.ts';
import { conditionalUpdateTarget } from './conditional-update.ts';
import { ifNoneExistParams } from './create.ts';
import { patch as patchInteraction } from './patch.ts';
import { rewriteReferences } from './references.ts';

interface Planned {
  index: number;
  where: string;
  request: FhirRequest;
  entry: BundleEntry;
  write?: PlannedWrite;
  /** A condition this entry resolved, re-checked after the writes. */
  condition?: { type: string; params: URLSearchParams; id: string };
  result?: FhirResponse;
}

function targetOf(p: Planned, what: string): { type: string; id: string | undefined } {
  const [type, id, ...rest] = p.request.segments;
  if (!type || rest.length) throw errors.invalidBundle(`${p.where}: ${p.request.method} ${p.request.segments.join('/')} is not a valid ${what} URL`, [`${p.where}.request.url`]);
  return { type, id };
}

/** Resource identities touched by the transaction; a second touch of one is an error. */
class Identities {
  private readonly seen = new Map<string, string>();
  claim(p: Planned, type: string, id: string): void {
    const key = `${type}/${id}`;
    const other = this.seen.get(key);
    if (other) throw errors.invalidBundle(`${p.where}: ${key} is also the target of ${other}; entries of a transaction must not overlap`, [`${p.where}.request.url`]);
    this.seen.set(key, p.where);
  }
}

async function planDelete(tx: FhirStore, p: Planned, identities: Identities): Promise<void> {
  const { type, id } = targetOf(p, 'delete');
  const target = id ?? (await tx.findConditional(type, p.request.query, `${p.where}: conditional delete`))?.id;
  if (!target) {
    p.result = { status: 200, outcome: informational(`No ${type} matched; nothing was deleted`) };
    return;
  }
  identities.claim(p, type, target);
  p.write = { kind: 'delete', resourceType: type, id: target, ifMatch: parseIfMatch(p.request.ifMatch), label: p.where };
}

async function planCreateOrUpdate(tx: FhirStore, p: Planned, identities: Identities, ids: Map<string, string>): Promise<void> {
  const post = p.request.method === 'POST';
  const { type, id } = targetOf(p, post ? 'create' : 'update');
  const resource = resourceBody(p.request.body, type);
  let target: string;
  if (post) {
    if (id !== undefined) throw errors.invalidBundle(`${p.where}: POST must target a resource type, not ${type}/${id}`);
    const ifNoneExist = ifNoneExistParams(p.request.ifNoneExist);
    const existing: StoredVersion | undefined = ifNoneExist && (await tx.findConditional(type, ifNoneExist, `${p.where}: ifNoneExist`));
    if (existing) {
      identities.claim(p, type, existing.id);
      if (p.entry.fullUrl) ids.set(p.entry.fullUrl, `${type}/${existing.id}`);
      const body = returnPreference(p.request.prefer) === 'minimal' ? undefined : (existing.content ?? undefined);
      p.result = { status: 200, version: existing, body, outcome: informational(`A matching ${type} exists (ifNoneExist); nothing was created`) };
      return;
    }
    target = newResourceId();
    if (ifNoneExist) p.condition = { type, params: ifNoneExist, id: target };
    p.write = { kind: 'create', resource: { ...resource, id: target }, label: p.where };
  } else {
    let made = false;
    if (id === undefined) {
      ({ id: target, made } = await conditionalUpdateTarget(tx, type, p.request.query, resource, `${p.where}: conditional update`));
      p.condition = { type, params: p.request.query, id: target };
    } else {
      if (resource.id !== undefined && resource.id !== id) throw errors.idMismatch(id, resource.id);
      target = id;
    }
    const ifMatch = parseIfMatch(p.request.ifMatch);
    // Under an id made up just now, the update creates what no one else can have: written as a
    // create, with no current version to lock and read first (the outcome is the same).
    p.write = made && ifMatch === undefined ? { kind: 'create', resource: { ...resource, id: target }, label: p.where } : { kind: 'update', resource: { ...resource, id: target }, ifMatch, label: p.where };
  }
  identities.claim(p, type, target);
  if (p.entry.fullUrl) ids.set(p.entry.fullUrl, `${type}/${target}`);
}

/** Every condition the entries will resolve (conditional create, update, delete), to lock them at once. */
function conditionsOf(planned: readonly Planned[]): Array<{ resourceType: string; params: URLSearchParams; forWrite: boolean }> {
  const out: Array<{ resourceType: string; params: URLSearchParams; forWrite: boolean }> = [];
  for (const p of planned) {
    const [type, id] = p.request.segments;
    if (!type || !isResourceType(type)) continue;
    if (p.request.method === 'POST' && id === undefined) {
      const params = ifNoneExistParams(p.request.ifNoneExist);
      if (params && [...params.keys()].length) out.push({ resourceType: type, params, forWrite: false });
    } else if ((p.request.method === 'PUT' || p.request.method === 'DELETE') && id === undefined && [...p.request.query.keys()].length) {
      out.push({ resourceType: type, params: p.request.query, forWrite: true });
    }
  }
  return out;
}

/** The resources entries update or delete by id (PUT or DELETE Type/id), to lock them with the conditions. */
function rowsOf(planned: readonly Planned[]): Array<{ resourceType: string; id: string }> {
  const out: Array<{ resourceType: string; id: string }> = [];
  for (const p of planned) {
    const [type, id, more] = p.request.segments;
    if ((p.request.method === 'PUT' || p.request.method === 'DELETE') && type && isResourceType(type) && id !== undefined && more === undefined && isValidId(id)) out.push({ resourceType: type, id });
  }
  return out;
}

/**
 * The common condition `identifier=system|value` (no modifier, no OR, no escapes) can be
 * rechecked in memory: only a resource this transaction wrote could newly match it. Returns
 * undefined when the condition is of another shape (then the database is asked).
 */
function identifierOverlapInMemory(c: NonNullable<Planned['condition']>, planned: readonly Planned[]): boolean | undefined {
  const entries = [...c.params];
  if (entries.length !== 1 || entries[0]![0] !== 'identifier') return undefined;
  const token = entries[0]![1];
  if (/[\\,$]/.test(token) || token.split('|').length !== 2) return undefined;
  const [system, value] = token.split('|') as [string, string];
  if (!system || !value) return undefined;
  const same = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();
  return planned.some((other) => {
    const r = other.write?.kind === 'delete' ? undefined : other.write?.resource;
    if (!r || r.resourceType !== c.type || r.id === c.id) return false;
    const ids = (r as { identifier?: Array<{ system?: string; value?: string }> }).identifier ?? [];
    return ids.some((i) => same(i.system, system) && same(i.value, value));
  });
}

/** Step 3: a condition must still match nothing but the resource it resolved to. */
async function recheckCondition(tx: FhirStore, p: Planned, planned: readonly Planned[]): Promise<void> {
  const c = p.condition;
  if (!c) return;
  // Answered in memory, except when another entry's resource may match: then the database decides.
  if (identifierOverlapInMemory(c, planned) === false) return;
  const overlap = () => errors.invalidBundle(`${p.where}: its condition ${c.type}?${c.params} also matches a resource written by another entry of this transaction`);
  const match = await tx.findConditional(c.type, c.params, `${p.where}: condition`).catch((err: unknown) => {
    throw err instanceof FhirError && err.errorCode === ErrorCode.MULTIPLE_MATCHES ? overlap() : err;
  });
  if (match && match.id !== c.id) throw overlap();
}

function writeResult(req: FhirRequest, result: WriteOutcome): FhirResponse {
  const v = result.version;
  if (result.outcome === 'deleted' || v.deleted) return { status: 200, version: v };
  return { status: result.outcome === 'created' ? 201 : 200, version: v, body: returnPreference(req.prefer) === 'minimal' ? undefined : (v.content ?? undefined) };
}

async function applyAll(tx: FhirStore, planned: Planned[]): Promise<void> {
  const writes = planned.filter((p) => p.write);
  const outcomes = await tx.applyWrites(writes.map((p) => p.write as PlannedWrite));
  writes.forEach((p, i) => (p.result = writeResult(p.request, outcomes[i] as WriteOutcome)));
}

async function each(planned: Planned[], fn: (p: Planned) => Promise<void>): Promise<void> {
  for (const p of planned) {
    try {
      await fn(p);
    } catch (err) {
      throw labelled(err, p.where);
    }
  }
}

export async function transaction(ctx: RouterContext, req: FhirRequest, bundle: Bundle): Promise<FhirResponse> {
  const results = await applyTransaction(ctx, req, bundle);
  return { status: 200, body: responseBundleJson('transaction-response', results.map((r) => responseEntryJson(ctx, r))) };
}

/** Runs a transaction Bundle: each entry's response, in the Bundle's order (transaction() renders them). */
export async function applyTransaction(ctx: RouterContext, req: FhirRequest, bundle: Bundle): Promise<FhirResponse[]> {
  const planned: Planned[] = (bundle.entry ?? []).map((entry, index) => {
    const request = entryRequest(ctx, entry ?? {}, index, req.prefer);
    if (request.segments.length === 0) throw errors.invalidBundle(`Bundle.entry[${index}]: a transaction cannot contain another batch or transaction`);
    return { index, where: `Bundle.entry[${index}]`, request, entry: entry ?? {} };
  });
  const fullUrls = new Set<string>();
  for (const p of planned) {
    if (p.entry.fullUrl && fullUrls.has(p.entry.fullUrl)) throw errors.invalidBundle(`${p.where}: fullUrl ${p.entry.fullUrl} appears more than once`);
    if (p.entry.fullUrl) fullUrls.add(p.entry.fullUrl);
  }
  const byMethod = (...methods: string[]) => planned.filter((p) => methods.includes(p.request.method));
  const deletes = byMethod('DELETE');
  const createsAndUpdates = [...byMethod('POST'), ...byMethod('PUT')];
  const patches = byMethod('PATCH');
  const reads = byMethod('GET', 'HEAD');

  return ctx.store.transaction(async (tx) => {
    const txCtx: RouterContext = { ...ctx, store: tx };
    const identities = new Identities();
    await tx.lockConditions(conditionsOf(planned), rowsOf(planned));
    await each(deletes, (p) => planDelete(tx, p, identities));
    await applyAll(tx, deletes);
    const ids = new Map<string, string>();
    await each(createsAndUpdates, (p) => planCreateOrUpdate(tx, p, identities, ids));
    await each(patches, async (p) => {
      const { type, id } = targetOf(p, 'patch');
      if (id === undefined) throw errors.invalidBundle(`${p.where}: PATCH must target Type/id`);
      identities.claim(p, type, id);
    });
    await each(createsAndUpdates, async (p) => {
      if (p.write && p.write.kind !== 'delete') await rewriteReferences(p.write.resource, ids, tx, p.where);
    });
    await applyAll(tx, createsAndUpdates);
    await each(createsAndUpdates, (p) => recheckCondition(tx, p, createsAndUpdates));
    await each(patches, async (p) => {
      p.result = await patchEntry(txCtx, p);
    });
    await each(reads, async (p) => {
      p.result = await route(txCtx, p.request).run();
    });
    return planned.map((p) => p.result as FhirResponse);
  });
}

async function patchEntry(ctx: RouterContext, p: Planned): Promise<FhirResponse> {
  const { type, id } = targetOf(p, 'patch');
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
  return patchInteraction(ctx, { ...p.request, body: patchBody, contentType: Array.isArray(patchBody) ? 'application/json-patch+json' : 'application/fhir+json' }, type, id as string);
}
