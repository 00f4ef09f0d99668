/** Checks shared by the interactions that take a resource body. */
import type { Resource } from '@medplum/fhirtypes';
import { errors } from '../../errors.ts';
import { assertResource } from '../../validation.ts';

/** The request body as a resource of the URL's type. */
export function resourceBody(body: unknown, type: string): Resource {
  if (body === undefined || body === null || body === '') throw errors.notAResource('Request body is empty; a FHIR resource is required');
  assertResource(body);
  if (body.resourceType !== type) throw errors.typeMismatch(type, body.resourceType);
  return body;
}
