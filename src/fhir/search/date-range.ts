/**
 * FHIR date, dateTime and instant values as the time ranges they denote
 * (http://hl7.org/fhir/R4/search.html#date): `2024` covers the whole year, `2024-03-05` the whole
 * day, `2024-03-05T10:00:00+08:00` one second. Values without a time zone are read as UTC.
 */

export interface DateRange {
  /** Inclusive start, epoch milliseconds. */
  low: number;
  /** Inclusive end, epoch milliseconds (the last millisecond of the range). */
  high: number;
}

/** Date.UTC, but years 0–99 stay years 0–99 (Date.UTC maps them to 1900–1999). */
function utc(year: number, month: number, day = 1, hour = 0, minute = 0, second = 0): number {
  const d = new Date(Date.UTC(2000, month, day, hour, minute, second));
  d.setUTCFullYear(year + Math.floor(month / 12), ((month % 12) + 12) % 12, day);
  return d.getTime();
}

const DATE_PATTERN = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Parses a FHIR date/dateTime/instant (or a search value of that form) into its range; undefined when malformed. */
export function parseDateRange(value: string): DateRange | undefined {
  const m = DATE_PATTERN.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo === undefined ? undefined : Number(mo);
  const day = d === undefined ? undefined : Number(d);
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (day !== undefined) {
    const daysInMonth = new Date(utc(year, month as number, 0)).getUTCDate();
    if (day < 1 || day > daysInMonth) return undefined;
  }
  if (h === undefined) {
    const start = utc(year, (month ?? 1) - 1, day ?? 1);
    const end = day !== undefined ? utc(year, (month as number) - 1, day + 1) : month !== undefined ? utc(year, month, 1) : utc(year + 1, 0, 1);
    return { low: start, high: end - 1 };
  }
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? undefined : Number(s);
  if (hour > 23 || minute > 59 || (second !== undefined && second > 59)) return undefined;
  let offsetMinutes = 0;
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    offsetMinutes = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
  }
  const base = utc(year, (month as number) - 1, day as number, hour, minute, second ?? 0) - offsetMinutes * 60_000;
  if (second === undefined) return { low: base, high: base + 60_000 - 1 };
  if (frac === undefined) return { low: base, high: base + 999 };
  // Fractional seconds: the range is as wide as the last digit given (at millisecond resolution).
  const digits = Math.min(frac.length, 3);
  const millis = Number(frac.slice(0, 3).padEnd(3, '0'));
  const width = 10 ** (3 - digits);
  return { low: base + millis, high: base + millis + width - 1 };
}
