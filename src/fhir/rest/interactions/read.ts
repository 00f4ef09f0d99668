/** read — GET [base]/[type]/[id] (http://hl7.org/fhir/R4/http.html#read) */
import type { FhirResponse, RestContext } from '../fhir-request.ts';
import { readResponse } from '../responses.ts';

export async function read(ctx: RestContext, type: string, id: string): Promise<FhirResponse> {
  return readResponse(await ctx.store.read(type, id));
}
