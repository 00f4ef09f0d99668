/**
 * $validate — POST [base]/[type]/$validate and [base]/[type]/[id]/$validate
 * (http://hl7.org/fhir/R4/resource-operation-validate.html). The body is the resource or a
 * Parameters with a `resource` part; the answer is always 200 with an OperationOutcome whose
 * issues say whether it is valid (errors) or not (none but information).
 */
import type { OperationOutcome, Parameters, Resource } from '@medplum/fhirtypes';
import { errors, FhirError } from '../../errors.ts';
import { validate } from '../../validation.ts';
import type { FhirRequest, FhirResponse } from '../fhir-request.ts';
import { resourceBody } from './body.ts';

export function validateOperation(req: FhirRequest, type: string): FhirResponse {
  let body = req.body as Resource | undefined;
  if (body?.resourceType === 'Parameters' && type !== 'Parameters') {
    body = (body as Parameters).parameter?.find((p) => p.name === 'resource')?.resource;
    if (!body) throw errors.notAResource('$validate Parameters must have a "resource" part');
  }
  let outcome: OperationOutcome;
  try {
    validate(resourceBody(body, type));
    outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: 'Validation successful: no errors' } }] };
  } catch (err) {
    if (!(err instanceof FhirError) || err.issueCode === 'not-supported') throw err;
    outcome = err.outcome;
  }
  return { status: 200, body: JSON.stringify(outcome), outcome };
}
