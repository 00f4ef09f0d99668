/**
 * conditional update — PUT [base]/[type]?[search] (http://hl7.org/fhir/R4/http.html#cond-update):
 * no match creates (with the body's id, or a new one), one match updates it, several are 412.
 */
import type { Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.ts';
import { newResourceId } from '../../store/resource-id.ts';
import type { FhirStore } from '../../store/fhir-store.ts';
import type { FhirRequest, FhirResponse, RestContext } from '../fhir-request.ts';
import { parseIfMatch, writeResponse } from '../responses.ts';
import { resourceBody } from './body.ts';

/**
 * The id a conditional update writes to: the one match, else the body's id if no other resource
 * has it, else a new id (`made`: no resource can have it yet). Inside a transaction (the
 * condition stays locked until it ends).
 */
export async function conditionalUpdateTarget(tx: FhirStore, type: string, query: URLSearchParams, resource: Resource, what: string): Promise<{ id: string; made: boolean }> {
  const match = await tx.findConditional(type, query, what);
  if (match) {
    if (resource.id !== undefined && resource.id !== match.id) throw errors.idMismatch(match.id, resource.id);
    return { id: match.id, made: false };
  }
  if (resource.id === undefined) return { id: newResourceId(), made: true };
  const taken = await tx.read(type, resource.id).then(
    () => true,
    () => false,
  );
  if (taken) throw errors.idMismatch(`(none: ${type}/${resource.id} exists but does not match the condition)`, resource.id);
  return { id: resource.id, made: false };
}

export async function conditionalUpdate(ctx: RestContext, req: FhirRequest, type: string): Promise<FhirResponse> {
  const resource = resourceBody(req.body, type);
  const ifMatch = parseIfMatch(req.ifMatch);
  const result = await ctx.store.transaction(async (tx) => {
    const { id } = await conditionalUpdateTarget(tx, type, req.query, resource, 'Conditional update');
    return tx.update({ ...resource, id }, { ifMatch });
  });
  return writeResponse(ctx, req, result);
}
