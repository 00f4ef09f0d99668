/**
 * conditional delete — DELETE [base]/[type]?[search] (http://hl7.org/fhir/R4/http.html#cdelete).
 * This server deletes a single match only: none is a success with nothing done, several are 412.
 */
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { informational } from '../responses.ts';

export async function conditionalDelete(ctx: RestContext, req: FhirRequest, type: string): Promise<FhirResponse> {
  const deleted = await ctx.store.transaction(async (tx) => {
    const match = await tx.findConditional(type, req.query, 'Conditional delete');
    if (!match) return undefined;
    return tx.delete(type, match.id);
  });
  const outcome = informational(deleted ? `Deleted ${type}/${deleted.version.id}` : `No ${type} matched; nothing was deleted`);
  return { status: 200, body: JSON.stringify(outcome), outcome, version: deleted?.version };
}
