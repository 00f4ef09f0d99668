/**
 * The inputs of a custom operation, the same whichever way they come (FHIR R4 §3.1.0.1.9):
 * GET query parameters (comma-separated values split) or a POSTed Parameters resource (primitive
 * values, and references as their `Type/id`), as one list of values per name.
 */
import type { Parameters } from '@medplum/fhirtypes';
import { errors } from '../errors.ts';
import type { FhirRequest } from '../rest/fhir-request.ts';

export function operationInputs(req: FhirRequest): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (name: string, value: string) => found.set(name, [...(found.get(name) ?? []), value]);
  for (const [name, value] of req.query) for (const part of value.split(',')) if (part) add(name, part);
  const body = req.body as Parameters | undefined;
  if (body && typeof body === 'object' && body.resourceType === 'Parameters') {
    for (const p of body.parameter ?? []) {
      const value = p.valueString ?? p.valueCode ?? p.valueId ?? p.valueUri ?? p.valueCanonical ?? p.valueDate ?? p.valueDateTime ?? p.valueReference?.reference;
      if (p.name && value !== undefined) add(p.name, String(value));
    }
  } else if (body !== undefined && req.method === 'POST') {
    throw errors.invalidOperationParameter('POST a Parameters resource (or use GET with query parameters)', ['Parameters']);
  }
  return found;
}

/** The one value of an input; a 400 when it is repeated. */
export function singleInput(found: Map<string, string[]>, name: string): string | undefined {
  const values = found.get(name);
  if (values && values.length > 1) throw errors.invalidOperationParameter(`${name} may be given once`, [name]);
  return values?.[0];
}
