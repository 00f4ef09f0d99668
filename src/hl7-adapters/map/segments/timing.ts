/**
 * Medication timing: repeat patterns (HL7 Table 0335 and the abbreviations Chinese prescriptions
 * use: QD, BID, TID, QID, QN, QOD, Q8H, HS, PRN, ST …), explicit times (`BID&0800,2000` in TQ/RPT,
 * or TQ1-4), start/end and service duration → FHIR Timing (http://hl7.org/fhir/R4/datatypes.html#Timing).
 */
import type { Timing, TimingRepeat } from '@medplum/fhirtypes';

type Unit = NonNullable<TimingRepeat['periodUnit']>;

interface Pattern {
  repeat: TimingRepeat;
  asNeeded?: boolean;
}

const FIXED: Readonly<Record<string, Pattern>> = {
  QD: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
  QAM: { repeat: { frequency: 1, period: 1, periodUnit: 'd', when: ['MORN'] } },
  QPM: { repeat: { frequency: 1, period: 1, periodUnit: 'd', when: ['EVE'] } },
  QN: { repeat: { frequency: 1, period: 1, periodUnit: 'd', when: ['NIGHT'] } },
  QHS: { repeat: { frequency: 1, period: 1, periodUnit: 'd', when: ['HS'] } },
  HS: { repeat: { frequency: 1, period: 1, periodUnit: 'd', when: ['HS'] } },
  BID: { repeat: { frequency: 2, period: 1, periodUnit: 'd' } },
  TID: { repeat: { frequency: 3, period: 1, periodUnit: 'd' } },
  QID: { repeat: { frequency: 4, period: 1, periodUnit: 'd' } },
  QOD: { repeat: { frequency: 1, period: 2, periodUnit: 'd' } },
  QW: { repeat: { frequency: 1, period: 1, periodUnit: 'wk' } },
  BIW: { repeat: { frequency: 2, period: 1, periodUnit: 'wk' } },
  TIW: { repeat: { frequency: 3, period: 1, periodUnit: 'wk' } },
  QM: { repeat: { frequency: 1, period: 1, periodUnit: 'mo' } },
  AC: { repeat: { when: ['AC'] } },
  PC: { repeat: { when: ['PC'] } },
  ST: { repeat: { count: 1 } },
  STAT: { repeat: { count: 1 } },
  ONCE: { repeat: { count: 1 } },
  PRN: { repeat: {}, asNeeded: true },
};

const UNIT: Readonly<Record<string, Unit>> = { S: 's', M: 'min', H: 'h', D: 'd', W: 'wk', L: 'mo', J: 'd' };

/** Parses a repeat pattern code; undefined when unknown. `Q6H`, `Q2D`, `Q30M`, `QID PRN` style included. */
export function repeatPattern(code: string): Pattern | undefined {
  const c = code.trim().toUpperCase().replace(/\s+/g, ' ');
  if (!c) return undefined;
  const fixed = FIXED[c];
  if (fixed) return { repeat: { ...fixed.repeat }, asNeeded: fixed.asNeeded };
  const every = /^Q(\d+)(S|M|H|D|W|L)$/.exec(c);
  if (every) return { repeat: { frequency: 1, period: Number(every[1]), periodUnit: UNIT[every[2]!] } };
  const prn = /^(.+?)\s*PRN$/.exec(c);
  if (prn) {
    const inner = repeatPattern(prn[1]!);
    return inner && { repeat: inner.repeat, asNeeded: true };
  }
  return undefined;
}

/** `0800` / `08:00` / `080000` → `08:00:00`; undefined when not a time. */
export function timeOfDay(text: string): string | undefined {
  const m = /^(\d{2}):?(\d{2})(?::?(\d{2}))?$/.exec(text.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return undefined;
  return `${m[1]}:${m[2]}:${m[3] ?? '00'}`;
}

export interface TimingInput {
  /** The repeat pattern code (TQ1-3.1 / TQ-2.1), possibly with `&HHMM,HHMM` explicit times. */
  pattern: string;
  /** Explicit times (TQ1-4), if sent separately. */
  times: string[];
  start?: string;
  end?: string;
  /** Service duration (TQ1-6): value and unit code (Table: s, min, h, d, wk, mo). */
  duration?: { value: number; unit: string };
  /** Total occurrences (TQ1-14). */
  count?: number;
  /** Human-readable pattern text (TQ1-3.2), kept as Timing.code.text. */
  text?: string;
}

export interface MappedTiming {
  timing: Timing;
  asNeeded: boolean;
  /** Whether the pattern code was understood (an unknown one is kept as text and warned about). */
  understood: boolean;
}

const DURATION_UNITS: Readonly<Record<string, Unit>> = { S: 's', MIN: 'min', M: 'min', H: 'h', HR: 'h', D: 'd', DAY: 'd', WK: 'wk', W: 'wk', MO: 'mo', A: 'a', '天': 'd', '日': 'd', '周': 'wk' };

export function mapTiming(input: TimingInput): MappedTiming {
  const [code = '', explicit = ''] = input.pattern.split('&');
  const pattern = repeatPattern(code);
  const repeat: TimingRepeat = { ...(pattern?.repeat ?? {}) };
  const times = [...explicit.split(','), ...input.times].map(timeOfDay).filter((t): t is string => !!t);
  if (times.length) {
    repeat.timeOfDay = [...new Set(times)];
    if (!repeat.frequency && !repeat.when) Object.assign(repeat, { frequency: times.length, period: 1, periodUnit: 'd' });
  }
  if (input.start || input.end) repeat.boundsPeriod = { ...(input.start ? { start: input.start } : {}), ...(input.end ? { end: input.end } : {}) };
  else if (input.duration) {
    const unit = DURATION_UNITS[input.duration.unit.toUpperCase()] ?? DURATION_UNITS[input.duration.unit];
    if (unit) repeat.boundsDuration = { value: input.duration.value, unit, system: 'http://unitsofmeasure.org', code: unit };
  }
  if (input.count) repeat.count = input.count;
  const timing: Timing = {};
  if (Object.keys(repeat).length) timing.repeat = repeat;
  if (code) timing.code = { coding: pattern ? [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0335', code: code.trim().toUpperCase() }] : undefined, text: input.text || code };
  if (timing.code && !timing.code.coding) delete timing.code.coding;
  return { timing, asNeeded: pattern?.asNeeded ?? false, understood: !code || pattern !== undefined };
}

/** Whole days a course covers (for dispenseRequest.expectedSupplyDuration), from start to end. */
export function courseDays(start: string | undefined, end: string | undefined): number | undefined {
  if (!start || !end) return undefined;
  const ms = Date.parse(end) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return Math.max(1, Math.ceil(ms / 86_400_000));
}
