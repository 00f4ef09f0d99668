/**
 * HL7 v2 dates and timestamps (DT, DTM, TS: v2.5.1 §2.A.21, §2.A.22, §2.A.77) to FHIR `date`,
 * `dateTime` and `instant` (http://hl7.org/fhir/R4/datatypes.html#dateTime).
 *
 * v2 keeps the sender's precision (`2024`, `202403`, `20240315`, `2024031509`, `202403150930`,
 * `20240315093000.1234`) and the offset is optional. FHIR keeps the precision too, but a dateTime
 * with a time must carry an offset: a timestamp without one is read in the sender's time zone
 * (per-sender configuration, default Asia/Shanghai) — the rule Chinese HIS vendors rely on.
 */

export class Hl7DateError extends Error {}

const TS = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?)?)?([+-]\d{4})?$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

const HOUR_MS = 3_600_000;

/**
 * Zone offsets by zone and UTC hour, for hours without a change of offset: a message has half a
 * dozen timestamps or more, each read twice (offsetOfLocalTime), and formatToParts costs several
 * microseconds a call. An hour is cached only when its first and last second have the same
 * offset, so an hour in which the zone changes offset (tzdb has no zone changing and changing
 * back within one hour) is always computed exactly. Bounded: cleared when full.
 */
const hourOffsets = new Map<string, number>();
const MAX_CACHED_HOURS = 50_000;

/** The zone's offset from UTC in minutes at the UTC instant `utcMs`. */
function offsetAtInstant(utcMs: number, timeZone: string): number {
  const hour = Math.floor(utcMs / HOUR_MS);
  const key = `${timeZone} ${hour}`;
  const cached = hourOffsets.get(key);
  if (cached !== undefined) return cached;
  const start = computeOffset(hour * HOUR_MS, timeZone);
  if (start !== computeOffset((hour + 1) * HOUR_MS - 1000, timeZone)) return computeOffset(utcMs, timeZone);
  if (hourOffsets.size >= MAX_CACHED_HOURS) hourOffsets.clear();
  hourOffsets.set(key, start);
  return start;
}

/** offsetAtInstant, worked out by the runtime's time zone data. */
function computeOffset(utcMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(utcMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

/** The offset in minutes that local wall-clock time `localMs` (read as if UTC) has in the zone. */
function offsetOfLocalTime(localMs: number, timeZone: string): number {
  const first = offsetAtInstant(localMs, timeZone);
  return offsetAtInstant(localMs - first * 60_000, timeZone);
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

interface Parsed {
  year: number;
  month?: number;
  day?: number;
  hour?: number;
  minute?: number;
  second?: number;
  fraction?: string;
  offset?: string;
}

function parse(text: string): Parsed {
  const m = TS.exec(text.trim());
  if (!m) throw new Hl7DateError(`"${text}" is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])`);
  const n = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const p: Parsed = { year: Number(m[1]), month: n(m[2]), day: n(m[3]), hour: n(m[4]), minute: n(m[5]), second: n(m[6]), fraction: m[7], offset: m[8] };
  const days = p.month ? new Date(Date.UTC(p.year, p.month, 0)).getUTCDate() : 31;
  if ((p.month !== undefined && (p.month < 1 || p.month > 12)) || (p.day !== undefined && (p.day < 1 || p.day > days)) || (p.hour ?? 0) > 23 || (p.minute ?? 0) > 59 || (p.second ?? 0) > 59) {
    throw new Hl7DateError(`"${text}" is not a valid date/time`);
  }
  return p;
}

/** DT or the date part of a TS → FHIR `date` (`2024`, `2024-03`, `2024-03-15`); undefined for ''. */
export function toFhirDate(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  const p = parse(text);
  return [String(p.year).padStart(4, '0'), p.month && pad(p.month), p.day && pad(p.day)].filter(Boolean).join('-');
}

/**
 * TS/DTM → FHIR `dateTime` at the sender's precision; times without an offset are local time in
 * `timeZone`. Undefined for ''.
 */
export function toFhirDateTime(text: string, timeZone: string): string | undefined {
  if (text.trim() === '') return undefined;
  const p = parse(text);
  const date = toFhirDate(text.slice(0, 8)) as string;
  if (p.hour === undefined) return date;
  const time = `${pad(p.hour)}:${pad(p.minute ?? 0)}:${pad(p.second ?? 0)}${p.fraction ? `.${p.fraction}` : ''}`;
  let offset: string;
  if (p.offset) offset = `${p.offset.slice(0, 3)}:${p.offset.slice(3)}`;
  else offset = formatOffset(offsetOfLocalTime(Date.UTC(p.year, (p.month ?? 1) - 1, p.day ?? 1, p.hour, p.minute ?? 0, p.second ?? 0), timeZone));
  return `${date}T${time}${offset}`;
}

/** FHIR `instant` (needs seconds and an offset) from a TS, or undefined when it is not that precise. */
export function toFhirInstant(text: string, timeZone: string): string | undefined {
  const dateTime = toFhirDateTime(text, timeZone);
  return dateTime && dateTime.length >= 25 ? dateTime : undefined;
}
