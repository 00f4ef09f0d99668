/**
 * create — POST [base]/[type], with conditional create by If-None-Exist
 * (http://hl7.org/fhir/R4/http.html#create, #ccreate). A client-supplied id is ignored, per spec.
 */
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { writeResponse } from '../responses.ts';
import { resourceBody } from './body.ts';

export function ifNoneExistParams(header: string | undefined): URLSearchParams | undefined {
  if (!header) return undefined;
  return new URLSearchParams(header.replace(/^[^?]*\?/, ''));
}

export async function create(ctx: RestContext, req: FhirRequest, type: string): Promise<FhirResponse> {
  const resource = resourceBody(req.body, type);
  delete resource.id;
  const result = await ctx.store.create(resource, { ifNoneExist: ifNoneExistParams(req.ifNoneExist) });
  return writeResponse(ctx, req, result);
}
