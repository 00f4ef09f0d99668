/** vread — GET [base]/[type]/[id]/_history/[vid] (http://hl7.org/fhir/R4/http.html#vread) */
import type { FhirResponse, RestContext } from '../fhir-request.ts';
import { readResponse } from '../responses.ts';

export async function vread(ctx: RestContext, type: string, id: string, versionId: string): Promise<FhirResponse> {
  return readResponse(await ctx.store.vread(type, id, versionId));
}
