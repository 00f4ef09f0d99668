// FHIR R4 search §3.1.1.4.3 (date): implicit ranges of partial dates.
import { describe, expect, it } from 'vitest';
import { parseDateRange } from './date-range.ts';

const iso = (ms: number) => new Date(ms).toISOString();

describe('parseDateRange', () => {
  it('reads a year as the whole year', () => {
    const r = parseDateRange('2024')!;
    expect([iso(r.low), iso(r.high)]).toEqual(['2024-01-01T00:00:00.000Z', '2024-12-31T23:59:59.999Z']);
  });
  it('reads a month as the whole month, leap years included', () => {
    const r = parseDateRange('2024-02')!;
    expect([iso(r.low), iso(r.high)]).toEqual(['2024-02-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z']);
  });
  it('reads a day as the whole day', () => {
    const r = parseDateRange('2023-12-31')!;
    expect([iso(r.low), iso(r.high)]).toEqual(['2023-12-31T00:00:00.000Z', '2023-12-31T23:59:59.999Z']);
  });
  it('applies the time zone offset', () => {
    const r = parseDateRange('2024-03-05T10:00:00+08:00')!;
    expect([iso(r.low), iso(r.high)]).toEqual(['2024-03-05T02:00:00.000Z', '2024-03-05T02:00:00.999Z']);
  });
  it('reads minutes precision as a one-minute range', () => {
    const r = parseDateRange('2024-03-05T10:30Z')!;
    expect([iso(r.low), iso(r.high)]).toEqual(['2024-03-05T10:30:00.000Z', '2024-03-05T10:30:59.999Z']);
  });
  it('keeps milliseconds of an instant', () => {
    const r = parseDateRange('2024-03-05T10:30:15.123Z')!;
    expect([iso(r.low), iso(r.high)]).toEqual(['2024-03-05T10:30:15.123Z', '2024-03-05T10:30:15.123Z']);
  });
  it('keeps years before 100 as they are', () => {
    const r = parseDateRange('0001-02')!;
    expect([iso(r.low), iso(r.high)]).toEqual(['0001-02-01T00:00:00.000Z', '0001-02-28T23:59:59.999Z']);
  });
  it('rolls day ends across month and year boundaries', () => {
    expect(iso(parseDateRange('2024-12-31')!.high)).toBe('2024-12-31T23:59:59.999Z');
    expect(iso(parseDateRange('2024-12')!.high)).toBe('2024-12-31T23:59:59.999Z');
  });
  it('rejects malformed and impossible dates', () => {
    for (const bad of ['2024-13', '2023-02-29', '24-01-01', '2024-01-01T25:00:00Z', 'yesterday', '']) {
      expect(parseDateRange(bad), bad).toBeUndefined();
    }
  });
});
