import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allResourceTypes, baseSearchParams, loadDefinitions } from '../definitions.ts';
import { extractIndexRows } from './index-rows.ts';
import { codesForTarget, referenceSubset } from './typed-references.ts';

loadDefinitions();

function allSubsets(): Array<[type: string, code: string]> {
  const found: Array<[string, string]> = [];
  for (const type of allResourceTypes()) for (const code of baseSearchParams(type).keys()) if (referenceSubset(type, code)) found.push([type, code]);
  return found;
}

describe('reference parameters restricted to one target type', () => {
  it('are found by their expressions', () => {
    expect(referenceSubset('Observation', 'patient')).toEqual({ code: 'subject', targetType: 'Patient' });
    expect(referenceSubset('Encounter', 'practitioner')).toEqual({ code: 'participant', targetType: 'Practitioner' });
    expect(referenceSubset('Provenance', 'patient')).toEqual({ code: 'target', targetType: 'Patient' });
    expect(referenceSubset('Appointment', 'location')).toEqual({ code: 'actor', targetType: 'Location' });
    // Its own element, not a restriction of another parameter's:
    expect(referenceSubset('AllergyIntolerance', 'patient')).toBeUndefined();
    expect(referenceSubset('Observation', 'subject')).toBeUndefined();
    // A union of two restrictions, and a restriction of an element no parameter covers whole:
    expect(referenceSubset('AuditEvent', 'patient')).toBeUndefined();
    expect(referenceSubset('EpisodeOfCare', 'care-manager')).toBeUndefined();
    expect(allSubsets()).toHaveLength(47);
  });

  it('are the pairs whose old rows migration 0018 removes', () => {
    const sql = fs.readFileSync(new URL('../../db/migrations/0018_typed_reference_rows.sql', import.meta.url), 'utf8');
    const listed = [...sql.matchAll(/\('([A-Za-z]+)', '([a-z-]+)'\)/g)].map((m) => [m[1], m[2]]);
    expect(listed).toEqual(allSubsets());
  });

  it('in a query for one target type, read the restricted parameter or drop out', () => {
    expect(codesForTarget('Condition', ['patient', 'asserter'], 'Patient')).toEqual(['subject', 'asserter']);
    expect(codesForTarget('Observation', ['patient', 'subject'], 'Patient')).toEqual(['subject']);
    expect(codesForTarget('Observation', ['patient', 'performer'], 'Practitioner')).toEqual(['performer']);
  });

  it('store only their :identifier rows, when the reference is logical', () => {
    const rows = (subject: object) => extractIndexRows({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject } as never);
    expect(rows({ reference: 'Patient/p1' }).reference.map((r) => r[0])).toEqual(['subject']);
    const logical = rows({ type: 'Patient', identifier: { system: 'urn:x', value: '1' } });
    expect(logical.reference).toEqual([]);
    expect(logical.token.filter((t) => t[0].endsWith(':identifier')).map((t) => t[0]).sort()).toEqual(['patient:identifier', 'subject:identifier']);
    const group = rows({ type: 'Group', identifier: { system: 'urn:x', value: '1' } });
    expect(group.token.filter((t) => t[0].endsWith(':identifier')).map((t) => t[0])).toEqual(['subject:identifier']);
  });
});
