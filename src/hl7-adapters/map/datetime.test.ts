import { describe, expect, it } from 'vitest';
import { Hl7DateError, toFhirDate, toFhirDateTime, toFhirInstant } from './datetime.ts';

/** The offset a local wall-clock time gets, worked out from the runtime's zone data with no cache (as datetime.ts reads it). */
function expectedOffset(local: { y: number; mo: number; d: number; h: number; mi: number }, timeZone: string): string {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const at = (utcMs: number) => {
    const p: Record<string, number> = {};
    for (const part of format.formatToParts(new Date(utcMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return Math.round((Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - utcMs) / 60_000);
  };
  const localMs = Date.UTC(local.y, local.mo - 1, local.d, local.h, local.mi);
  const minutes = at(localMs - at(localMs) * 60_000);
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

describe('HL7 timestamps to FHIR', () => {
  it('keeps the precision; a time without offset is read in the sender’s zone', () => {
    expect(toFhirDate('20240315')).toBe('2024-03-15');
    expect(toFhirDate('202403')).toBe('2024-03');
    expect(toFhirDateTime('2024', 'Asia/Shanghai')).toBe('2024');
    expect(toFhirDateTime('20240315093000.1234', 'Asia/Shanghai')).toBe('2024-03-15T09:30:00.1234+08:00');
    expect(toFhirDateTime('202403150930-0500', 'Asia/Shanghai')).toBe('2024-03-15T09:30:00-05:00');
    expect(toFhirInstant('202403150930', 'Asia/Shanghai')).toBe('2024-03-15T09:30:00+08:00');
    expect(toFhirDateTime('', 'Asia/Shanghai')).toBeUndefined();
    expect(() => toFhirDateTime('20240230', 'Asia/Shanghai')).toThrow(Hl7DateError);
  });

  it('gives every minute around changes of offset the offset the zone data give, read again after they are cached', () => {
    const changes: Array<[string, number, number, number]> = [
      ['Asia/Shanghai', 1988, 4, 17], // summer time in China, 1986–1991
      ['Asia/Shanghai', 1988, 9, 11],
      ['America/New_York', 2026, 3, 8],
      ['America/New_York', 2026, 11, 1],
      ['Europe/London', 2026, 3, 29],
      ['Australia/Lord_Howe', 2026, 4, 5], // a half-hour change
      ['Australia/Lord_Howe', 2026, 10, 4], // …at 15:30 UTC, inside an hour
      ['Australia/Adelaide', 2026, 10, 4], // +09:30 → +10:30 at 16:30 UTC
      ['Asia/Kolkata', 2026, 1, 1], // +05:30, no change
    ];
    for (let pass = 0; pass < 2; pass++) {
      for (const [zone, y, mo, d] of changes) {
        for (let minutes = -180; minutes <= 26 * 60; minutes += 7) {
          const at = new Date(Date.UTC(y, mo - 1, d - 1, 12, 0) + minutes * 60_000);
          const local = { y: at.getUTCFullYear(), mo: at.getUTCMonth() + 1, d: at.getUTCDate(), h: at.getUTCHours(), mi: at.getUTCMinutes() };
          const text = `${local.y}${pad(local.mo)}${pad(local.d)}${pad(local.h)}${pad(local.mi)}`;
          expect(toFhirDateTime(text, zone)?.slice(-6), `${zone} ${text}`).toBe(expectedOffset(local, zone));
        }
      }
    }
  });
});
