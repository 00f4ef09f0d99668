// ConceptMap/$translate core (http://hl7.org/fhir/R4/conceptmap-operation-translate.html) over
// ConceptMaps (http://hl7.org/fhir/R4/conceptmap.html): element.target and equivalence
// (http://hl7.org/fhir/R4/valueset-concept-map-equivalence.html), group.unmapped modes
// (#ConceptMap.group.unmapped), reverse, targetsystem, codeableConcept, input checks.
import type { ConceptMap } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../errors.ts';
import { latestPerUrl, translateWithMaps } from './translate-maps.ts';
import type { TranslateParams } from './translate-maps.ts';

const LOCAL_SEX = 'urn:oid:1.2.3.4.5.1';
const GENDER = 'http://hl7.org/fhir/administrative-gender';
const LOCAL_LAB = 'https://hospital.example/lab-codes';
const LOINC = 'http://loinc.org';

const sexMap: ConceptMap = {
  resourceType: 'ConceptMap',
  id: 'sex',
  url: 'https://hospital.example/ConceptMap/sex',
  status: 'active',
  sourceUri: 'https://hospital.example/ValueSet/sex',
  targetUri: 'http://hl7.org/fhir/ValueSet/administrative-gender',
  group: [
    {
      source: LOCAL_SEX,
      target: GENDER,
      element: [
        { code: '1', display: '男', target: [{ code: 'male', display: 'Male', equivalence: 'equivalent' }] },
        { code: '2', display: '女', target: [{ code: 'female', display: 'Female', equivalence: 'equivalent' }] },
        { code: '9', target: [{ equivalence: 'unmatched', comment: 'not stated' }] },
      ],
    },
  ],
};

const labMap: ConceptMap = {
  resourceType: 'ConceptMap',
  id: 'lab',
  url: 'https://hospital.example/ConceptMap/lab',
  status: 'active',
  group: [
    {
      source: LOCAL_LAB,
      target: LOINC,
      element: [
        { code: 'GLU', target: [{ code: '2345-7', equivalence: 'equivalent' }] },
        { code: 'HB', target: [{ code: '718-7', equivalence: 'narrower' }, { code: '20509-6', equivalence: 'inexact' }] },
        { code: 'X', target: [{ equivalence: 'disjoint' }] },
      ],
    },
  ],
};

const withUnmapped = (url: string, unmapped: NonNullable<ConceptMap['group']>[number]['unmapped']): ConceptMap => ({
  resourceType: 'ConceptMap',
  url,
  status: 'active',
  group: [{ source: LOCAL_SEX, target: GENDER, element: [{ code: '1', target: [{ code: 'male', equivalence: 'equivalent' }] }], unmapped }],
});

const run = (maps: ConceptMap[], params: TranslateParams, resolve?: (c: string) => ConceptMap | undefined) => translateWithMaps(maps, params, resolve);
const codes = (r: ReturnType<typeof run>) => r.matches.map((m) => `${m.equivalence} ${m.concept.system}|${m.concept.code ?? ''}`);

function expectInvalid(fn: () => unknown, expression: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    expect((err as FhirError).errorCode).toBe('CB_ERR_INVALID_OPERATION_PARAMETER');
    expect((err as FhirError).outcome.issue?.[0]?.expression).toContain(expression);
    return;
  }
  throw new Error('expected a FhirError');
}

describe('translateWithMaps', () => {
  it('translates system + code through element.target, with the map url as source', () => {
    const r = run([sexMap, labMap], { system: LOCAL_SEX, code: '2' });
    expect(r.result).toBe(true);
    expect(r.message).toBeUndefined();
    expect(r.matches).toEqual([{ equivalence: 'equivalent', concept: { system: GENDER, code: 'female', display: 'Female' }, source: sexMap.url }]);
  });

  it('returns every target of a code, each with its equivalence', () => {
    expect(codes(run([labMap], { coding: { system: LOCAL_LAB, code: 'HB' } }))).toEqual([`narrower ${LOINC}|718-7`, `inexact ${LOINC}|20509-6`]);
  });

  it('answers false with a message when nothing maps, and for unmatched or disjoint targets', () => {
    const none = run([sexMap], { system: LOCAL_SEX, code: '7' });
    expect(none).toMatchObject({ result: false, matches: [] });
    expect(none.message).toContain(`${LOCAL_SEX}|7`);
    const unmatched = run([sexMap], { system: LOCAL_SEX, code: '9' });
    expect(unmatched.result).toBe(false);
    expect(codes(unmatched)).toEqual([`unmatched ${GENDER}|`]);
    expect(unmatched.message).toMatch(/unmatched or disjoint/);
    expect(run([labMap], { system: LOCAL_LAB, code: 'X' }).result).toBe(false);
    expect(run([], { system: 'urn:other', code: '1' }).message).toMatch(/No ConceptMap translates from urn:other\|1/);
  });

  it('ignores groups from other systems, of another system version, or to another targetsystem', () => {
    expect(run([sexMap], { system: LOCAL_LAB, code: '1' }).result).toBe(false);
    const versioned: ConceptMap = { ...sexMap, group: [{ ...sexMap.group![0]!, sourceVersion: '2024' }] };
    expect(run([versioned], { system: LOCAL_SEX, version: '2023', code: '1' }).result).toBe(false);
    expect(run([versioned], { system: LOCAL_SEX, version: '2024', code: '1' }).result).toBe(true);
    expect(run([versioned], { system: LOCAL_SEX, code: '1' }).result).toBe(true);
    expect(run([sexMap], { system: LOCAL_SEX, code: '1', targetsystem: LOINC }).result).toBe(false);
    expect(run([sexMap], { system: LOCAL_SEX, code: '1', targetsystem: GENDER }).result).toBe(true);
  });

  it('tries each coding of a codeableConcept', () => {
    const r = run([sexMap, labMap], { codeableConcept: { coding: [{ system: 'urn:unknown', code: 'a' }, { system: LOCAL_LAB, code: 'GLU' }, { system: LOCAL_SEX, code: '1' }] } });
    expect(codes(r)).toEqual([`equivalent ${LOINC}|2345-7`, `equivalent ${GENDER}|male`]);
  });

  it('maps target → source in reverse, reading the equivalence from the other side', () => {
    const r = run([sexMap], { system: GENDER, code: 'female', reverse: true });
    expect(r.matches).toEqual([{ equivalence: 'equivalent', concept: { system: LOCAL_SEX, code: '2', display: '女' }, source: sexMap.url }]);
    expect(codes(run([labMap], { system: LOINC, code: '718-7', reverse: true }))).toEqual([`wider ${LOCAL_LAB}|HB`]);
    expect(run([sexMap], { system: LOCAL_SEX, code: '1', reverse: true }).result).toBe(false);
  });

  it('picks maps by source and target value set when none is named, and ignores them when one is', () => {
    expect(run([sexMap], { system: LOCAL_SEX, code: '1', source: 'https://hospital.example/ValueSet/sex' }).result).toBe(true);
    expect(run([sexMap], { system: LOCAL_SEX, code: '1', target: 'http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1' }).result).toBe(true);
    expect(run([sexMap], { system: LOCAL_SEX, code: '1', target: 'https://other.example/ValueSet/x' }).result).toBe(false);
    expect(run([sexMap], { system: GENDER, code: 'male', reverse: true, source: 'http://hl7.org/fhir/ValueSet/administrative-gender' }).result).toBe(true);
    expect(run([sexMap], { url: sexMap.url, system: LOCAL_SEX, code: '1', target: 'https://other.example/ValueSet/x' }).result).toBe(true);
  });

  describe('group.unmapped', () => {
    it('provided: the code as given, in the target system', () => {
      const map = withUnmapped('urn:m:provided', { mode: 'provided' });
      expect(codes(run([map], { system: LOCAL_SEX, code: 'other' }))).toEqual([`equal ${GENDER}|other`]);
      expect(codes(run([map], { system: LOCAL_SEX, code: '1' }))).toEqual([`equivalent ${GENDER}|male`]);
      expect(codes(run([map], { system: GENDER, code: 'unknown', reverse: true }))).toEqual([`equal ${LOCAL_SEX}|unknown`]);
    });

    it('fixed: the code the group gives, not in reverse', () => {
      const map = withUnmapped('urn:m:fixed', { mode: 'fixed', code: 'unknown', display: 'Unknown' });
      expect(run([map], { system: LOCAL_SEX, code: '0' }).matches).toEqual([{ equivalence: 'inexact', concept: { system: GENDER, code: 'unknown', display: 'Unknown' }, source: 'urn:m:fixed' }]);
      expect(run([map], { system: GENDER, code: 'other', reverse: true }).result).toBe(false);
    });

    it('other-map: follows the named map, and stops at a cycle with a message', () => {
      const fallback = withUnmapped('urn:m:fallback', { mode: 'fixed', code: 'unknown' });
      fallback.group![0]!.element = [{ code: '0', target: [{ code: 'other', equivalence: 'wider' }] }];
      const first = withUnmapped('urn:m:first', { mode: 'other-map', url: 'urn:m:fallback' });
      const maps = new Map([['urn:m:fallback', fallback]]);
      expect(run([first], { system: LOCAL_SEX, code: '0' }, (c) => maps.get(c)).matches).toEqual([{ equivalence: 'wider', concept: { system: GENDER, code: 'other' }, source: 'urn:m:fallback' }]);
      expect(codes(run([first], { system: LOCAL_SEX, code: '5' }, (c) => maps.get(c)))).toEqual([`inexact ${GENDER}|unknown`]);

      const a = withUnmapped('urn:m:a', { mode: 'other-map', url: 'urn:m:b' });
      const b = withUnmapped('urn:m:b', { mode: 'other-map', url: 'urn:m:a' });
      const cycle = new Map([['urn:m:a', a], ['urn:m:b', b]]);
      const r = run([a], { system: LOCAL_SEX, code: '5' }, (c) => cycle.get(c));
      expect(r.result).toBe(false);
      expect(r.message).toMatch(/urn:m:a is reached again through other-map/);
      expect(run([a], { system: LOCAL_SEX, code: '1' }, (c) => cycle.get(c)).result).toBe(true);
    });

    it('other-map to an unknown map: no match, and the message says why', () => {
      const r = run([withUnmapped('urn:m:dangling', { mode: 'other-map', url: 'urn:m:missing' })], { system: LOCAL_SEX, code: '5' });
      expect(r.result).toBe(false);
      expect(r.message).toMatch(/defers unmapped codes to urn:m:missing, which is not known/);
    });
  });

  it('rejects missing, ambiguous and incomplete inputs, naming the parameter', () => {
    expectInvalid(() => run([sexMap], {}), 'code');
    expectInvalid(() => run([sexMap], { code: '1' }), 'system');
    expectInvalid(() => run([sexMap], { system: LOCAL_SEX, code: '' }), 'code');
    expectInvalid(() => run([sexMap], { system: LOCAL_SEX, code: '1', coding: { system: LOCAL_SEX, code: '1' } }), 'coding');
    expectInvalid(() => run([sexMap], { coding: { system: LOCAL_SEX } }), 'coding.code');
    expectInvalid(() => run([sexMap], { coding: { code: '1' } }), 'coding.system');
    expectInvalid(() => run([sexMap], { system: LOCAL_SEX, coding: { system: LOCAL_SEX, code: '1' } }), 'system');
    expectInvalid(() => run([sexMap], { codeableConcept: { text: 'male' } }), 'codeableConcept.coding');
    expectInvalid(() => run([sexMap], { conceptMapVersion: '1', system: LOCAL_SEX, code: '1' }), 'conceptMapVersion');
  });
});

describe('latestPerUrl', () => {
  it('keeps the most recently updated resource of each url', () => {
    const v1 = { ...sexMap, id: 'v1', version: '1', meta: { lastUpdated: '2024-01-01T00:00:00Z' } };
    const v2 = { ...sexMap, id: 'v2', version: '2', meta: { lastUpdated: '2024-06-01T00:00:00Z' } };
    expect(latestPerUrl([v2, labMap, v1]).map((m) => m.id)).toEqual(['v2', 'lab']);
    expect(latestPerUrl([v1, v2]).map((m) => m.id)).toEqual(['v2']);
  });
});
