import { describe, expect, it } from 'vitest';
import { proportionOfDaysCovered } from './pdc.ts';

describe('proportion of days covered', () => {
  it('covers consecutive fills fully', () => {
    expect(proportionOfDaysCovered([{ date: '2024-01-01', daysSupply: 30 }, { date: '2024-01-31', daysSupply: 30 }], '2024-02-29')).toEqual({ pdc: 1, coveredDays: 60, periodDays: 60, firstFill: '2024-01-01' });
  });

  it('counts gaps, and shifts early refills forward instead of double counting', () => {
    // 30 days, a 10-day gap, then 20 days: 50 of 60.
    expect(proportionOfDaysCovered([{ date: '2024-01-01', daysSupply: 30 }, { date: '2024-02-10', daysSupply: 30 }], '2024-02-29')?.coveredDays).toBe(50);
    // Refilled 10 days early: the second supply starts on day 31, so 60 days covered in a 60-day period.
    expect(proportionOfDaysCovered([{ date: '2024-01-01', daysSupply: 30 }, { date: '2024-01-21', daysSupply: 30 }], '2024-02-29')?.pdc).toBe(1);
    const r = proportionOfDaysCovered([{ date: '2024-01-01', daysSupply: 30 }], '2024-02-29');
    expect(r).toMatchObject({ coveredDays: 30, periodDays: 60 });
    expect(r!.pdc).toBe(0.5);
  });

  it('ignores supply past the end and fills after it; no fills, no PDC', () => {
    expect(proportionOfDaysCovered([{ date: '2024-02-20', daysSupply: 90 }], '2024-02-29')).toMatchObject({ coveredDays: 10, periodDays: 10, pdc: 1 });
    expect(proportionOfDaysCovered([{ date: '2024-03-20', daysSupply: 30 }], '2024-02-29')).toBeUndefined();
    expect(proportionOfDaysCovered([], '2024-02-29')).toBeUndefined();
  });
});
