import type { Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { defaultThresholds, findBreaches } from './thresholds.ts';

const table = defaultThresholds();
const obs = (code: string, value: number, unit: string, extra: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, valueQuantity: { value, code: unit, unit, system: 'http://unitsofmeasure.org' }, ...extra,
});
const ids = (o: Observation) => findBreaches(o, table).map((b) => b.rule.id);

describe('threshold rules', () => {
  it('flags urgent-referral values, inclusive bounds', () => {
    expect(ids(obs('8480-6', 180, 'mm[Hg]'))).toEqual(['sbp-urgent']);
    expect(ids(obs('8480-6', 179, 'mm[Hg]'))).toEqual([]);
    expect(ids(obs('15074-8', 16.7, 'mmol/L'))).toEqual(['glucose-high']);
    expect(ids(obs('15074-8', 3.9, 'mmol/L'))).toEqual(['glucose-low']);
    expect(ids(obs('59408-5', 92, '%'))).toEqual(['spo2-urgent']);
    expect(ids(obs('8867-4', 150, '/min'))).toEqual([]); // heart rate: "persistently" needs a series, not one value
  });

  it('reads blood-pressure panel components and converts glucose mg/dL to mmol/L', () => {
    const panel: Observation = {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 150, code: 'mm[Hg]' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 112, code: 'mm[Hg]' } },
      ],
    };
    expect(ids(panel)).toEqual(['dbp-urgent']);
    const breaches = findBreaches(obs('2339-0', 320, 'mg/dL'), table);
    expect(breaches.map((b) => [b.rule.id, Math.round(b.value * 10) / 10])).toEqual([['glucose-high', 17.8]]);
    expect(ids(obs('2339-0', 320, 'g/L'))).toEqual([]); // a unit the rule cannot convert is not judged
    expect(ids(obs('8480-6', 200, 'mm[Hg]', { status: 'entered-in-error' }))).toEqual([]);
  });
});
