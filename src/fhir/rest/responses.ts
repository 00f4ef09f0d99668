/**
 * Building FhirResponses from stored versions: ETag/Last-Modified/Location, and the body chosen
 * by `Prefer: return` (http://hl7.org/fhir/R4/http.html#ops).
 */
import type { OperationOutcome } from '@medplum/fhirtypes';
import { errors } from '../errors.ts';
import type { StoredVersion, WriteOutcome } from '../store/fhir-store.ts';
import { returnPreference } from './fhir-request.ts';
import type { FhirRequest, FhirResponse, RestContext } from './fhir-request.ts';

export const etag = (v: StoredVersion) => `W/"${v.versionId}"`;

export const versionLocation = (ctx: RestContext, v: StoredVersion) => `${ctx.baseUrl}/${v.resourceType}/${v.id}/_history/${v.versionId}`;

/** Parses an If-Match ETag (`W/"3"`, also `"3"` and `3`) into a version number. */
export function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const m = /^\s*(?:W\/)?"?([1-9]\d{0,8})"?\s*$/.exec(value);
  if (!m) throw errors.invalidIfMatch(value);
  return Number(m[1]);
}

export function informational(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text } }] };
}

export function readResponse(v: StoredVersion): FhirResponse {
  return { status: 200, body: v.content ?? undefined, version: v };
}

const MESSAGES: Record<WriteOutcome['outcome'], string> = {
  created: 'Created',
  updated: 'Updated',
  deleted: 'Deleted',
  unchanged: 'No change: the resource already had this content; no new version was made',
  existing: 'A matching resource already exists (If-None-Exist); nothing was created',
};

/** The response to a create/update, honouring Prefer: return. */
export function writeResponse(ctx: RestContext, req: FhirRequest, result: WriteOutcome): FhirResponse {
  const status = result.outcome === 'created' ? 201 : 200;
  const v = result.version;
  const outcome = informational(`${MESSAGES[result.outcome]}: ${v.resourceType}/${v.id} version ${v.versionId}`);
  const base: FhirResponse = { status, version: v, location: versionLocation(ctx, v) };
  switch (returnPreference(req.prefer)) {
    case 'minimal':
      return base;
    case 'OperationOutcome':
      return { ...base, body: JSON.stringify(outcome), outcome };
    default:
      return { ...base, body: v.content ?? undefined };
  }
}
