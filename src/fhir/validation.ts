/**
 * Validation of incoming resources against the R4 StructureDefinitions (@medplum/core), plus the
 * checks the StructureDefinitions cannot express (a known concrete type, a well-formed id).
 * Only issues of severity error/fatal reject a resource; warnings are dropped.
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { TypedValueWithPath } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { ERROR_SYSTEM, ErrorCode, errors, issue } from './errors.ts';
import { isResourceType } from './definitions.ts';
import { checkRequiredBindings } from './terminology/required-bindings.ts';

export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** Checks that a parsed body is a resource at all, and of a known type. */
export function assertResource(body: unknown): asserts body is Resource {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.notAResource();
  const type = (body as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') throw errors.notAResource('Resource has no resourceType');
  if (!isResourceType(type)) throw errors.unknownType(type);
}

/** Full validation: throws a FhirError (422) naming each failing element. */
export function validate(resource: Resource): void {
  assertResource(resource);
  const problems: OperationOutcomeIssue[] = [];
  if (resource.id !== undefined && !isValidId(resource.id)) {
    problems.push(issue('value', ErrorCode.INVALID_ID, `"${String(resource.id)}" is not a valid FHIR id ([A-Za-z0-9-.]{1,64})`, [`${resource.resourceType}.id`]));
  }
  const tokens: Record<string, TypedValueWithPath[]> = {};
  try {
    for (const found of validateResource(resource, { collect: { tokens } })) {
      if (found.severity === 'error' || found.severity === 'fatal') {
        problems.push({ ...found, details: { coding: [{ system: ERROR_SYSTEM, code: ErrorCode.INVALID_RESOURCE }], text: found.details?.text ?? found.diagnostics ?? 'Invalid' } });
      }
    }
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      problems.push(...(err.outcome.issue ?? []).map((i) => ({ ...i, code: i.code === 'invalid' ? ('structure' as const) : i.code })));
    } else throw err;
  }
  problems.push(...checkRequiredBindings(tokens));
  if (problems.length) throw errors.invalidResource(problems);
}
