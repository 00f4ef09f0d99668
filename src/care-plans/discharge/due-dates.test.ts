import { describe, expect, it } from 'vitest';
import { addBusinessDays, addDays, chinaHolidayCalendar, isBusinessDay, NO_HOLIDAYS } from './due-dates.ts';

describe('due dates', () => {
  it('adds calendar days', () => {
    expect(addDays('2024-03-22', 14)).toBe('2024-04-05');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
  });

  it('adds business days over weekends', () => {
    expect(addBusinessDays('2024-03-22', 2, NO_HOLIDAYS)).toBe('2024-03-26'); // Fri → Tue
    expect(addBusinessDays('2024-03-20', 2, NO_HOLIDAYS)).toBe('2024-03-22'); // Wed → Fri
    expect(addBusinessDays('2024-03-23', 1, NO_HOLIDAYS)).toBe('2024-03-25'); // Sat → Mon
  });

  it('skips the calendar days off and counts its make-up working days (调休)', () => {
    // National Day 2025: 1–8 Oct off, Saturday 11 Oct a working day.
    const calendar = { daysOff: new Set(['2025-10-01', '2025-10-02', '2025-10-03', '2025-10-06', '2025-10-07', '2025-10-08']), workingDays: new Set(['2025-10-11']) };
    expect(isBusinessDay('2025-10-11', calendar)).toBe(true);
    expect(isBusinessDay('2025-10-06', calendar)).toBe(false);
    expect(addBusinessDays('2025-09-30', 2, calendar)).toBe('2025-10-10');
    expect(addBusinessDays('2025-10-09', 2, calendar)).toBe('2025-10-11');
  });

  it('ships the 2025 China holiday calendar', () => {
    const calendar = chinaHolidayCalendar();
    expect(calendar.years).toContain('2025');
    expect(isBusinessDay('2025-01-29', calendar)).toBe(false); // Spring Festival
    expect(isBusinessDay('2025-01-26', calendar)).toBe(true); // a Sunday worked instead
    // Discharged on Monday 27 January 2025: the holiday runs to 4 February, so 2 business days end on Thursday 6 February.
    expect(addBusinessDays('2025-01-27', 2, calendar)).toBe('2025-02-06');
  });

  it('ships the 2026 China holiday calendar (State Council notice of 4 November 2025)', () => {
    const calendar = chinaHolidayCalendar();
    expect(calendar.years).toEqual(expect.arrayContaining(['2025', '2026']));
    // Spring Festival 15–23 February off; Saturdays 14 and 28 February worked.
    expect(isBusinessDay('2026-02-16', calendar)).toBe(false);
    expect(isBusinessDay('2026-02-14', calendar)).toBe(true);
    expect(isBusinessDay('2026-02-28', calendar)).toBe(true);
    // Discharged on Friday 13 February: Saturday 14th is a working day (1), then the holiday, Tuesday 24th (2).
    expect(addBusinessDays('2026-02-13', 2, calendar)).toBe('2026-02-24');
    // Labour Day 1–5 May off, Saturday 9 May worked; discharged Thursday 30 April → Wednesday 6 May, Thursday 7 May.
    expect(addBusinessDays('2026-04-30', 2, calendar)).toBe('2026-05-07');
    // National Day 1–7 October off, Saturday 10 October worked: Wednesday 30 September → Thursday 8, Friday 9.
    expect(addBusinessDays('2026-09-30', 3, calendar)).toBe('2026-10-10');
  });

  it('ships 2027 as provisional: the statutory holidays only, until the State Council notice', () => {
    const calendar = chinaHolidayCalendar();
    expect(calendar.provisionalYears).toEqual(['2027']);
    // 除夕 and 初三 of the Year of the Goat (New Year's Day Saturday 6 February 2027) are weekdays off.
    expect(isBusinessDay('2027-02-05', calendar)).toBe(false);
    expect(isBusinessDay('2027-02-08', calendar)).toBe(false);
    expect(isBusinessDay('2027-02-09', calendar)).toBe(true);
    // New Year, Qingming (Monday 5 April), Dragon Boat (Wednesday 9 June), Mid-Autumn (Wednesday 15 September), National Day.
    for (const day of ['2027-01-01', '2027-04-05', '2027-06-09', '2027-09-15', '2027-10-01']) expect(isBusinessDay(day, calendar)).toBe(false);
    // Discharged Thursday 4 February 2027: Friday 5th and Monday 8th are off → Tuesday 9th, Wednesday 10th.
    expect(addBusinessDays('2027-02-04', 2, calendar)).toBe('2027-02-10');
  });
});
