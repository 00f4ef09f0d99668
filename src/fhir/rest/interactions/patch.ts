/**
 * patch — PATCH [base]/[type]/[id] (http://hl7.org/fhir/R4/http.html#patch) with JSON Patch
 * (application/json-patch+json, RFC 6902) or FHIRPath Patch (a Parameters body,
 * http://hl7.org/fhir/R4/fhirpatch.html). The patched resource is validated like an update, and
 * applied against the version it was computed from, so a concurrent write is never overwritten.
 */
import { applyPatch, fhirpathPatchTypedValue, parseFhirPathPatchParameters } from '@medplum/core';
import type { Operation } from '@medplum/core';
import type { Parameters, Resource } from '@medplum/fhirtypes';
import { ErrorCode, errors, FhirError } from '../../errors.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { parseIfMatch, writeResponse } from '../responses.ts';

const JSON_PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);
const MAX_ATTEMPTS = 5;

function isJsonPatch(body: unknown): body is Operation[] {
  return Array.isArray(body) && body.every((op) => typeof op === 'object' && op !== null && JSON_PATCH_OPS.has((op as Operation).op) && typeof (op as Operation).path === 'string');
}

function patched(current: Resource, body: unknown, contentType: string | undefined): Resource {
  const copy = structuredClone(current);
  if (/json-patch\+json/.test(contentType ?? '') || Array.isArray(body)) {
    if (!isJsonPatch(body)) throw errors.invalidPatch('A JSON Patch body must be an array of operations, each with "op" (add, remove, replace, move, copy, test) and "path"');
    const failures = applyPatch(copy, body).map((e, i) => (e ? `operation ${i} (${body[i]!.op} ${body[i]!.path}): ${e.message}` : undefined)).filter(Boolean);
    if (failures.length) throw errors.invalidPatch(`JSON Patch failed: ${failures.join('; ')}`);
    return copy;
  }
  if (typeof body === 'object' && body !== null && (body as Resource).resourceType === 'Parameters') {
    try {
      fhirpathPatchTypedValue({ type: copy.resourceType, value: copy }, parseFhirPathPatchParameters(body as Parameters));
    } catch (err) {
      throw errors.invalidPatch(`FHIRPath Patch failed: ${(err as Error).message}`);
    }
    return copy;
  }
  throw errors.invalidPatch('PATCH takes a JSON Patch array (application/json-patch+json) or a FHIRPath Patch Parameters resource');
}

export async function patch(ctx: RestContext, req: FhirRequest, type: string, id: string): Promise<FhirResponse> {
  const clientIfMatch = parseIfMatch(req.ifMatch);
  for (let attempt = 1; ; attempt++) {
    const current = await ctx.store.read(type, id);
    if (clientIfMatch !== undefined && current.versionId !== clientIfMatch) {
      throw errors.versionConflict(type, id, String(clientIfMatch), current.versionId);
    }
    const result = patched(JSON.parse(current.content as string) as Resource, req.body, req.contentType);
    if (result.resourceType !== type || result.id !== id) throw errors.invalidPatch('A patch must not change resourceType or id');
    try {
      return writeResponse(ctx, req, await ctx.store.update(result, { ifMatch: current.versionId }));
    } catch (err) {
      // Someone wrote in between: recompute the patch on the newer version (unless the client pinned one).
      const raced = err instanceof FhirError && err.errorCode === ErrorCode.VERSION_CONFLICT;
      if (!raced || clientIfMatch !== undefined || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
