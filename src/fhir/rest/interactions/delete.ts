/**
 * delete — DELETE [base]/[type]/[id] (http://hl7.org/fhir/R4/http.html#delete). A delete is a
 * new version; deleting a deleted resource changes nothing and succeeds.
 */
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { informational, parseIfMatch } from '../responses.ts';

export async function deleteInteraction(ctx: RestContext, req: FhirRequest, type: string, id: string): Promise<FhirResponse> {
  const result = await ctx.store.delete(type, id, { ifMatch: parseIfMatch(req.ifMatch) });
  const outcome = informational(result.outcome === 'deleted' ? `Deleted ${type}/${id}` : `${type}/${id} was already deleted`);
  return { status: 200, body: JSON.stringify(outcome), outcome, version: result.outcome === 'deleted' ? result.version : undefined };
}
