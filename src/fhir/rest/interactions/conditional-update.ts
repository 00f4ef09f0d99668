/**
 * conditional update — PUT [base]/[type]?[search] (http://hl7.org/fhir/R4/http.html#cond-update):
 * no match creates (with the body's id, or a new one), one match updates it, several are 412.
 */
import { randomUUID } from 'node:crypto';
import { errors } from '../../errors.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { parseIfMatch, writeResponse } from '../responses.ts';
import { resourceBody } from './body.ts';

export async function conditionalUpdate(ctx: RestContext, req: FhirRequest, type: string): Promise<FhirResponse> {
  const resource = resourceBody(req.body, type);
  const ifMatch = parseIfMatch(req.ifMatch);
  const result = await ctx.store.transaction(async (tx) => {
    const match = await tx.findConditional(type, req.query, 'Conditional update');
    if (match) {
      if (resource.id !== undefined && resource.id !== match.id) throw errors.idMismatch(match.id, resource.id);
      return tx.update({ ...resource, id: match.id }, { ifMatch });
    }
    if (resource.id !== undefined) {
      const taken = await tx.read(type, resource.id).then(
        () => true,
        () => false,
      );
      if (taken) throw errors.idMismatch('(no match for the condition)', resource.id);
    }
    return tx.update({ ...resource, id: resource.id ?? randomUUID() }, { ifMatch });
  });
  return writeResponse(ctx, req, result);
}
