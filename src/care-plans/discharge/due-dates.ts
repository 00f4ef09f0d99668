/**
 * Due dates of follow-up actions: "within N days" means due by the discharge date + N (issue 6);
 * business days skip Saturdays, Sundays and the holiday calendar's days off, and count its make-up
 * working days (调休). Dates are calendar dates (YYYY-MM-DD) in the hospital's time zone.
 */
import fs from 'node:fs';

export interface HolidayCalendar {
  /** Days off on weekdays (public holidays). */
  daysOff: ReadonlySet<string>;
  /** Weekend days that are working days (make-up days). */
  workingDays: ReadonlySet<string>;
}

export const NO_HOLIDAYS: HolidayCalendar = { daysOff: new Set(), workingDays: new Set() };

interface CalendarYear {
  daysOff: string[];
  workingDays: string[];
  /** Set while a year holds only what the law fixes in advance, before its State Council notice. */
  provisional?: string;
}

/**
 * The China public-holiday calendar shipped as data (protocols/holidays-cn.json, replaceable).
 * `provisionalYears` lists the years whose days off are the statutory ones only (no notice yet):
 * due dates there may land on a bridging day off or miss a make-up working day.
 */
export function chinaHolidayCalendar(): HolidayCalendar & { years: string[]; provisionalYears: string[] } {
  const data = JSON.parse(fs.readFileSync(new URL('../protocols/holidays-cn.json', import.meta.url), 'utf8')) as { years: Record<string, CalendarYear> };
  const years = Object.keys(data.years).sort();
  return {
    years,
    provisionalYears: years.filter((y) => data.years[y]!.provisional),
    daysOff: new Set(years.flatMap((y) => data.years[y]!.daysOff)),
    workingDays: new Set(years.flatMap((y) => data.years[y]!.workingDays)),
  };
}

const iso = (t: number) => new Date(t).toISOString().slice(0, 10);
const DAY = 86_400_000;

export function addDays(date: string, days: number): string {
  return iso(Date.parse(`${date}T00:00:00Z`) + days * DAY);
}

export function isBusinessDay(date: string, calendar: HolidayCalendar): boolean {
  if (calendar.workingDays.has(date)) return true;
  if (calendar.daysOff.has(date)) return false;
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
  return weekday !== 0 && weekday !== 6;
}

export function addBusinessDays(date: string, days: number, calendar: HolidayCalendar): string {
  let current = date;
  for (let left = days; left > 0; ) {
    current = addDays(current, 1);
    if (isBusinessDay(current, calendar)) left--;
  }
  return current;
}
