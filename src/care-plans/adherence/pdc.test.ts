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

  it('with a measurement period: carry-in from a fill before it counts, the period starts at its start', () => {
    // 30 days from 20 December cover 20 Dec – 18 Jan: 18 days of the period; then 20 Jan – 18 Feb: 30 more (19 Jan uncovered).
    const r = proportionOfDaysCovered([{ date: '2023-12-20', daysSupply: 30 }, { date: '2024-01-20', daysSupply: 30 }], '2024-02-29', '2024-01-01');
    expect(r).toMatchObject({ coveredDays: 18 + 30, periodDays: 60, firstFill: '2023-12-20' });
    // A first fill inside the period: the treatment period starts at that fill (PQA index date).
    expect(proportionOfDaysCovered([{ date: '2024-02-10', daysSupply: 10 }], '2024-02-29', '2024-01-01')).toMatchObject({ coveredDays: 10, periodDays: 20, pdc: 0.5 });
    // Supply that ended before the period: nothing to measure.
    expect(proportionOfDaysCovered([{ date: '2023-11-01', daysSupply: 30 }], '2024-02-29', '2024-01-01')).toBeUndefined();
  });
});
