import { describe, expect, it } from 'vitest';
import { charlsonIndex, defaultComorbidityTable, findComorbidities, normaliseIcd10 } from './comorbidity.ts';
import { hospitalScore } from './hospital-score.ts';
import { lacePointsForStay, laceScore } from './lace.ts';
import { lengthOfStayDays } from './length-of-stay.ts';

const table = defaultComorbidityTable();
const ids = (codes: string[]) => findComorbidities(codes, table).map((m) => m.condition.id);

describe('Charlson comorbidities from ICD-10 (Quan 2005)', () => {
  it('matches prefixes after removing the dot, Chinese clinical-version codes included', () => {
    expect(normaliseIcd10('I21.401')).toBe('I21401');
    expect(ids(['I21.401'])).toEqual(['mi']);
    expect(ids(['I50.900', 'J44.100'])).toEqual(['chf', 'copd']);
    expect(ids(['I42.7'])).toEqual(['chf']); // inside the I425–I429 range
    expect(ids(['I42.1'])).toEqual([]); // outside it
    expect(ids(['I63.900'])).toEqual(['cvd']); // I60–I69
    expect(ids(['I10.x00', 'K35.800'])).toEqual([]); // hypertension, appendicitis: not Charlson
  });

  it('splits diabetes by the 4th character and counts only the more severe of each pair', () => {
    expect(ids(['E11.900'])).toEqual(['diabetes']);
    expect(ids(['E11'])).toEqual(['diabetes']);
    expect(ids(['E11.200'])).toEqual(['diabetes-complicated']);
    expect(ids(['E11.900', 'E11.200'])).toEqual(['diabetes-complicated']);
    expect(ids(['K70.3', 'K70.4'])).toEqual(['severe-liver']);
    expect(ids(['C34.9', 'C78.0'])).toEqual(['metastatic']);
    expect(ids(['C34.9'])).toEqual(['malignancy']);
  });

  it('sums Charlson and Quan 2011 weights', () => {
    const m = findComorbidities(['I21.0', 'I50.9', 'E11.2', 'N18.5', 'C78.0'], table);
    expect(charlsonIndex(m)).toBe(1 + 1 + 2 + 2 + 6);
    expect(charlsonIndex(m, 'quan2011')).toBe(0 + 2 + 1 + 1 + 6);
  });
});

describe('length of stay (LACE convention)', () => {
  it('counts calendar days in the hospital time zone, both ends included', () => {
    expect(lengthOfStayDays('2024-03-15T09:00:00+08:00', '2024-03-22T10:00:00+08:00', 'Asia/Shanghai')).toBe(8);
    expect(lengthOfStayDays('2024-03-15T09:00:00+08:00', '2024-03-15T18:00:00+08:00', 'Asia/Shanghai')).toBe(1);
    // 23:30 and 00:30 local are two calendar days in Shanghai, although one UTC day.
    expect(lengthOfStayDays('2024-03-15T23:30:00+08:00', '2024-03-16T00:30:00+08:00', 'Asia/Shanghai')).toBe(2);
    expect(() => lengthOfStayDays('2024-03-16T00:00:00Z', '2024-03-15T00:00:00Z', 'UTC')).toThrow(/before admission/);
  });
});

describe('LACE', () => {
  it('scores each item per the table', () => {
    expect([0, 1, 2, 3, 4, 6, 7, 13, 14, 30].map(lacePointsForStay)).toEqual([0, 1, 2, 3, 4, 4, 5, 5, 7, 7]);
    const r = laceScore({ lengthOfStayDays: 8, acuteAdmission: true, comorbidities: findComorbidities(['I50.9', 'J44.1'], table), emergencyVisits6Months: 6 });
    // CHF 2 + chronic pulmonary 2 = 4 points, which LACE scores as 5.
    expect(r).toEqual({ total: 5 + 3 + 5 + 4, band: 'high', components: { L: 5, A: 3, C: 5, E: 4 }, comorbidityPoints: 4 });
    expect(laceScore({ lengthOfStayDays: 3, acuteAdmission: false, comorbidities: findComorbidities(['J44.1', 'I21.0'], table), emergencyVisits6Months: 1 }).components).toEqual({ L: 3, A: 0, C: 3, E: 1 });
  });

  it('caps comorbidity at 5 when the points reach 4', () => {
    const r = laceScore({ lengthOfStayDays: 2, acuteAdmission: false, comorbidities: findComorbidities(['C78.0'], table), emergencyVisits6Months: 0 });
    expect(r.components.C).toBe(5);
    expect(r).toMatchObject({ total: 7, band: 'moderate', comorbidityPoints: 6 });
    expect(laceScore({ lengthOfStayDays: 1, acuteAdmission: false, comorbidities: [], emergencyVisits6Months: 0 })).toMatchObject({ total: 1, band: 'low' });
  });
});

describe('HOSPITAL score', () => {
  it('scores each item and bands the total; no labs, no score', () => {
    const r = hospitalScore({ haemoglobinGdl: 11.5, sodiumMmolL: 132, oncologyDischarge: true, procedureDuringStay: false, urgentAdmission: true, admissionsPrevious12Months: 3, lengthOfStayDays: 6 });
    expect(r).toEqual({ total: 1 + 2 + 1 + 0 + 1 + 2 + 2, band: 'high', components: { H: 1, O: 2, S: 1, P: 0, I: 1, A: 2, L: 2 } });
    expect(hospitalScore({ haemoglobinGdl: 13, sodiumMmolL: 140, oncologyDischarge: false, procedureDuringStay: true, urgentAdmission: false, admissionsPrevious12Months: 6, lengthOfStayDays: 2 })).toMatchObject({ total: 6, band: 'intermediate' });
    expect(hospitalScore({ haemoglobinGdl: undefined, sodiumMmolL: 140, oncologyDischarge: false, procedureDuringStay: false, urgentAdmission: false, admissionsPrevious12Months: 0, lengthOfStayDays: 1 })).toBeUndefined();
  });
});
