// Search index extraction (http://hl7.org/fhir/R4/search.html §3.1.1.4): what each R4 parameter
// type stores for a resource, including Chinese names and partial dates.
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../definitions.ts';
import { cut, extractIndexRows, MAX_INDEXED_BYTES, normalizeString, parseRelativeReference } from './index-rows.ts';

loadDefinitions();

describe('extractIndexRows', () => {
  const patient = {
    resourceType: 'Patient' as const,
    id: 'p1',
    identifier: [{ system: 'urn:oid:2.16.156.10011.1.3', value: '11010519491231002X' }],
    name: [{ family: '张', given: ['三'] }, { family: 'Zhang', given: ['San'] }],
    gender: 'male' as const,
    birthDate: '1960-05',
    telecom: [{ system: 'phone' as const, value: '13800000000' }],
    generalPractitioner: [{ reference: 'Practitioner/d1' }],
    managingOrganization: { reference: 'http://other.example/fhir/Organization/o1' },
  };

  it('indexes identifiers and codes as tokens', () => {
    const rows = extractIndexRows(patient);
    expect(rows.token).toContainEqual(['identifier', 'urn:oid:2.16.156.10011.1.3', '11010519491231002X', null, null]);
    expect(rows.token).toContainEqual(['gender', null, 'male', null, null]);
    expect(rows.token).toContainEqual(['phone', 'phone', '13800000000', null, null]);
  });

  it('keeps identifier type codings for :of-type and logical references for :identifier', () => {
    const rows = extractIndexRows({
      resourceType: 'Observation',
      status: 'final',
      code: { text: '收缩压' },
      subject: { identifier: { system: 'urn:mrn', value: 'M1' } },
      identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'FILL' }], text: 'Filler' }, system: 'urn:lab', value: 'L9' }],
    });
    expect(rows.token).toContainEqual(['identifier', 'urn:lab', 'L9', 'filler', 'http://terminology.hl7.org/CodeSystem/v2-0203|FILL']);
    expect(rows.token).toContainEqual(['subject:identifier', 'urn:mrn', 'M1', null, null]);
    expect(rows.token).toContainEqual(['code', null, null, '收缩压', null]);
  });

  it('indexes each name part and the Chinese family-first form, normalised', () => {
    const names = extractIndexRows(patient).string.filter(([code]) => code === 'name').map(([, value]) => value);
    expect(names).toEqual(expect.arrayContaining(['张', '三', '张三', 'zhang', 'san', 'san zhang', 'zhang san']));
    expect(extractIndexRows(patient).string).toContainEqual(['family', '张', '张']);
  });

  it('indexes a partial date as its whole range', () => {
    expect(extractIndexRows(patient).date).toContainEqual(['birthdate', '1960-05-01T00:00:00.000Z', '1960-05-31T23:59:59.999Z']);
  });

  it('indexes relative references by type and id, others by their text', () => {
    const refs = extractIndexRows(patient).reference;
    expect(refs).toContainEqual(['general-practitioner', 'Practitioner', 'd1', 'Practitioner/d1']);
    expect(refs).toContainEqual(['organization', null, null, 'http://other.example/fhir/Organization/o1']);
  });

  it('indexes quantities with system and code, and open periods with infinite bounds', () => {
    const rows = extractIndexRows({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
      valueQuantity: { value: 185, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      effectivePeriod: { start: '2024-03-01T08:00:00+08:00' },
    });
    const [quantity] = rows.quantity.filter(([code]) => code === 'value-quantity');
    expect(quantity?.slice(0, 5)).toEqual(['value-quantity', 'http://unitsofmeasure.org', 'mm[Hg]', '185', 'g.m-1.s-2']);
    expect(Number(quantity?.[5])).toBeCloseTo(185 * 133322, 0); // UCUM: m[Hg] = 133.322 kPa, so 1 mm[Hg] = 133322 g.m-1.s-2
    expect(rows.token).toContainEqual(['code', 'http://loinc.org', '8480-6', 'systolic blood pressure', null]);
    expect(rows.token.some(([, , value]) => value === 'Systolic blood pressure')).toBe(false);
    expect(rows.composite).toContainEqual(['code-value-quantity', 'http://loinc.org', '8480-6', 'http://unitsofmeasure.org', 'mm[Hg]', '185', null, null]);
    expect(rows.date).toContainEqual(['date', '2024-03-01T00:00:00.000Z', 'infinity']);
  });
});

describe('normalizeString', () => {
  it('folds case and accents and leaves CJK text alone', () => {
    expect(normalizeString('Ærøskøbing Müller ÉCOLE')).toBe('ærøskøbing muller ecole');
    expect(normalizeString('张三')).toBe('张三');
    expect(normalizeString('ＡＢＣ')).toBe('abc'); // full-width Latin, common in Chinese input
  });
});

describe('parseRelativeReference', () => {
  it('accepts Type/id and Type/id/_history/n only', () => {
    expect(parseRelativeReference('Patient/123')).toEqual({ type: 'Patient', id: '123' });
    expect(parseRelativeReference('Patient/123/_history/2')).toEqual({ type: 'Patient', id: '123' });
    expect(parseRelativeReference('urn:uuid:0f9c')).toBeUndefined();
    expect(parseRelativeReference('http://x/fhir/Patient/1')).toBeUndefined();
    expect(parseRelativeReference('#contained')).toBeUndefined();
  });
});

describe('cut', () => {
  it('limits index text by UTF-8 bytes at a character boundary, and removes NUL', () => {
    const cjk = '张'.repeat(1200); // 3 bytes each
    const cutCjk = cut(cjk);
    expect(Buffer.byteLength(cutCjk)).toBeLessThanOrEqual(MAX_INDEXED_BYTES);
    expect(cutCjk).toBe('张'.repeat(Math.floor(MAX_INDEXED_BYTES / 3)));
    const emoji = '😀'.repeat(400); // 4 bytes, surrogate pairs
    expect(cut(emoji)).toBe('😀'.repeat(MAX_INDEXED_BYTES / 4));
    expect(cut('a\u0000b')).toBe('ab');
    expect(cut('short')).toBe('short');
  });

  it('indexes the R4 meta parameters _tag, _profile, _security and _source', () => {
    const rows = extractIndexRows({ resourceType: 'Patient', meta: { tag: [{ system: 'urn:t', code: 'x' }], profile: ['http://p'], security: [{ system: 'urn:s', code: 'R' }], source: 'urn:src' } });
    expect(rows.token).toContainEqual(['_tag', 'urn:t', 'x', null, null]);
    expect(rows.token).toContainEqual(['_security', 'urn:s', 'R', null, null]);
    expect(rows.uri).toEqual(expect.arrayContaining([['_profile', 'http://p'], ['_source', 'urn:src']]));
  });
});
