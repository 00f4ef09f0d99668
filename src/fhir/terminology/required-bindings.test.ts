// Required terminology bindings (http://hl7.org/fhir/R4/terminologies.html#required).
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../definitions.ts';
import { FhirError } from '../errors.ts';
import { validate } from '../validation.ts';

loadDefinitions();

function issuesOf(resource: object): string[] {
  try {
    validate(resource as never);
    return [];
  } catch (err) {
    return ((err as FhirError).outcome.issue ?? []).map((i) => `${i.expression?.[0]}: ${i.details?.text}`);
  }
}

describe('required bindings', () => {
  it('rejects a code outside a required value set and names the element', () => {
    const issues = issuesOf({ resourceType: 'Patient', gender: 'robot' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^Patient\.gender: "robot" is not in the required value set http:\/\/hl7.org\/fhir\/ValueSet\/administrative-gender/);
  });

  it('accepts codes in the value set, including Codings with the right system', () => {
    expect(issuesOf({ resourceType: 'Patient', gender: 'female' })).toEqual([]);
    expect(issuesOf({ resourceType: 'Observation', status: 'final', code: { text: 'x' } })).toEqual([]);
    expect(issuesOf({ resourceType: 'Observation', status: 'done', code: { text: 'x' } })).toHaveLength(1);
  });

  it('does not guess about value sets it cannot expand locally (e.g. languages)', () => {
    expect(issuesOf({ resourceType: 'Patient', language: 'zh-CN' })).toEqual([]);
  });
});
