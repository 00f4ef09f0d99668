import { describe, expect, it } from 'vitest';
import { courseDays, mapTiming, repeatPattern } from './timing.ts';

describe('medication timing', () => {
  it('maps the common frequency codes', () => {
    expect(repeatPattern('QD')?.repeat).toEqual({ frequency: 1, period: 1, periodUnit: 'd' });
    expect(repeatPattern('bid')?.repeat).toEqual({ frequency: 2, period: 1, periodUnit: 'd' });
    expect(repeatPattern('TID')?.repeat).toEqual({ frequency: 3, period: 1, periodUnit: 'd' });
    expect(repeatPattern('QN')?.repeat).toEqual({ frequency: 1, period: 1, periodUnit: 'd', when: ['NIGHT'] });
    expect(repeatPattern('Q8H')?.repeat).toEqual({ frequency: 1, period: 8, periodUnit: 'h' });
    expect(repeatPattern('QOD')?.repeat).toEqual({ frequency: 1, period: 2, periodUnit: 'd' });
    expect(repeatPattern('Q6H PRN')).toEqual({ repeat: { frequency: 1, period: 6, periodUnit: 'h' }, asNeeded: true });
    expect(repeatPattern('XYZ')).toBeUndefined();
  });

  it('reads explicit times packed after & and bounds', () => {
    const t = mapTiming({ pattern: 'BID&0800,2000', times: [], start: '2024-03-16T08:00:00+08:00', end: '2024-03-22T20:00:00+08:00', text: '每日两次' });
    expect(t.understood).toBe(true);
    expect(t.timing.repeat).toEqual({ frequency: 2, period: 1, periodUnit: 'd', timeOfDay: ['08:00:00', '20:00:00'], boundsPeriod: { start: '2024-03-16T08:00:00+08:00', end: '2024-03-22T20:00:00+08:00' } });
    expect(t.timing.code).toEqual({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0335', code: 'BID' }], text: '每日两次' });
  });

  it('explicit times alone imply a daily frequency; unknown codes are kept as text', () => {
    expect(mapTiming({ pattern: '', times: ['0700', '1900'] }).timing.repeat).toEqual({ frequency: 2, period: 1, periodUnit: 'd', timeOfDay: ['07:00:00', '19:00:00'] });
    const odd = mapTiming({ pattern: 'WEIRD', times: [] });
    expect(odd.understood).toBe(false);
    expect(odd.timing.code).toEqual({ text: 'WEIRD' });
  });

  it('service duration becomes boundsDuration; course days round up', () => {
    expect(mapTiming({ pattern: 'QD', times: [], duration: { value: 7, unit: 'd' } }).timing.repeat?.boundsDuration).toEqual({ value: 7, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' });
    expect(courseDays('2024-03-16T08:00:00+08:00', '2024-03-22T20:00:00+08:00')).toBe(7);
    expect(courseDays(undefined, '2024-03-22')).toBeUndefined();
  });
});
