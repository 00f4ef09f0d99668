/**
 * update — PUT [base]/[type]/[id], including update-as-create with a client id and If-Match
 * version checks (http://hl7.org/fhir/R4/http.html#update, #concurrency).
 */
import { errors } from '../../errors.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { parseIfMatch, writeResponse } from '../responses.ts';
import { resourceBody } from './body.ts';

export async function update(ctx: RestContext, req: FhirRequest, type: string, id: string): Promise<FhirResponse> {
  const resource = resourceBody(req.body, type);
  if (resource.id !== id) throw errors.idMismatch(id, resource.id);
  const result = await ctx.store.update(resource, { ifMatch: parseIfMatch(req.ifMatch) });
  return writeResponse(ctx, req, result);
}
