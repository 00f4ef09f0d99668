/**
 * read — GET [base]/[type]/[id] (http://hl7.org/fhir/R4/http.html#read), with conditional read
 * (#cread): `If-None-Match` with the current ETag, or `If-Modified-Since` not older than the
 * version, answers 304 Not Modified without a body.
 */
import type { StoredVersion } from '../../store/fhir-store.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { etag, readResponse } from '../responses.ts';

function notModified(req: FhirRequest, v: StoredVersion): boolean {
  if (req.ifNoneMatch !== undefined) return req.ifNoneMatch.split(',').some((tag) => tag.trim() === etag(v) || tag.trim() === `"${v.versionId}"` || tag.trim() === '*');
  if (req.ifModifiedSince !== undefined) {
    const since = Date.parse(req.ifModifiedSince);
    return Number.isFinite(since) && Math.floor(Date.parse(v.lastUpdated) / 1000) * 1000 <= since;
  }
  return false;
}

export async function read(ctx: RestContext, req: FhirRequest, type: string, id: string): Promise<FhirResponse> {
  const v = await ctx.store.read(type, id);
  return notModified(req, v) ? { status: 304, version: v } : readResponse(v);
}
