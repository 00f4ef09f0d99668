/**
 * Acknowledgement messages (HL7 v2.5.1 chapter 2: §2.9 "Message processing rules" — original
 * and enhanced acknowledgement modes; §2.14.1 ACK; §2.15.8 MSA; §2.15.5 ERR; §2.15.9 MSH;
 * Table 0008 acknowledgment codes; Table 0357 message error condition codes).
 *
 * - MSH: sender and receiver swapped (ACK MSH-3/4 = original MSH-5/6 and the reverse), a new
 *   MSH-10, MSH-9 `ACK^<trigger>^ACK`, MSH-11 and MSH-12 echoed, MSH-18 echoed (the caller
 *   encodes the text in that charset with encodeHl7Text), the original delimiters reused.
 * - MSA-1 the acknowledgement code, MSA-2 the original MSH-10.
 * - ERR (when there is an error): v2.5+ ERR-2 location, ERR-3 code^text^HL70357, ERR-4 severity,
 *   ERR-8 the human-readable reason; before v2.5 ERR-1 (CM: segment^sequence^field^code&text&HL70357)
 *   and MSA-3 text instead. All free text is escaped (§2.7) so delimiters in it stay literal.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_DELIMITERS, readDelimiters } from './parse/delimiters.ts';
import type { Hl7Delimiters } from './parse/delimiters.ts';
import { escapeValue } from './parse/escape.ts';
import type { Hl7Segment } from './parse/segment.ts';

/** Table 0008: AA/AE/AR (original mode, application ACK), CA/CE/CR (enhanced mode, accept ACK). */
export type AckCode = 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';

/** Table 0357 codes used by CareBridge, with their standard text. */
export const HL7_ERROR_TEXT: Readonly<Record<string, string>> = {
  '0': 'Message accepted',
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '202': 'Unsupported processing id',
  '203': 'Unsupported version id',
  '204': 'Unknown key identifier',
  '205': 'Duplicate key identifier',
  '206': 'Application record locked',
  '207': 'Application internal error',
};

export interface AckError {
  /** Table 0357 code, e.g. `200`. */
  code: string;
  /** Human-readable reason (ERR-8; MSA-3 before v2.5). */
  reason: string;
  /** Where: segment name, its position in the message and the field, when known (ERR-2). */
  segment?: string;
  segmentIndex?: number;
  field?: number;
  /** ERR-4 (Table 0516): E error (default), W warning, I information. */
  severity?: 'E' | 'W' | 'I';
}

export interface AckOptions {
  /** The original message's MSH, or undefined when it could not be read. */
  msh: Hl7Segment | undefined;
  code: AckCode;
  error?: AckError;
  /** Our own application and facility, used when the original MSH-5/MSH-6 are empty. */
  receiver?: { application: string; facility: string };
  /** ACK MSH-10 (default: a new unique id of at most 20 characters). */
  controlId?: string;
  /** ACK MSH-7 (default: now). */
  now?: Date;
}

const DEFAULT_RECEIVER = { application: 'CAREBRIDGE', facility: '' };

/** A new message control id: `CB` + time + randomness, 18 characters (MSH-10 is ST 20 in v2.5). */
export function newControlId(): string {
  return `CB${Date.now().toString(36).toUpperCase()}${randomBytes(4).toString('hex').toUpperCase()}`;
}

/** DTM in UTC with offset, e.g. `20240315093000+0000` (§2.A.22). */
export function hl7Timestamp(date: Date): string {
  const iso = date.toISOString(); // 2024-03-15T09:30:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`;
}

/** Field n of a header segment exactly as encoded (n ≥ 3; '' when absent). */
function rawField(msh: Hl7Segment | undefined, delimiters: Hl7Delimiters, n: number): string {
  if (!msh) return '';
  return msh.raw.split(delimiters.field)[n - 1] ?? '';
}

/** Versions before 2.5 report errors in ERR-1 (and MSA-3) instead of ERR-2/3/8. */
function isBefore25(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major === 2 && minor !== undefined && minor < 5;
}

function delimitersOf(msh: Hl7Segment | undefined): Hl7Delimiters {
  if (!msh) return DEFAULT_DELIMITERS;
  try {
    return readDelimiters(msh.raw);
  } catch {
    return DEFAULT_DELIMITERS;
  }
}

/** Builds the ACK text (segments joined with CR, no trailing CR). */
export function buildAck(options: AckOptions): string {
  const { msh, code, error } = options;
  const d = delimitersOf(msh);
  const receiver = options.receiver ?? DEFAULT_RECEIVER;
  const esc = (text: string): string => escapeValue(text, d);
  const version = msh?.field(12).value || '2.5';
  const enhanced = code.startsWith('C');
  const trigger = msh ? esc(msh.field(9).component(2)) : '';
  const encodingCharacters = `${d.component}${d.repetition}${d.escape}${d.subcomponent}${d.truncation}`;

  const mshFields = [
    'MSH',
    encodingCharacters,
    rawField(msh, d, 5) || esc(receiver.application), // MSH-3 sending application = original receiver
    rawField(msh, d, 6) || esc(receiver.facility), // MSH-4
    rawField(msh, d, 3), // MSH-5 receiving application = original sender
    rawField(msh, d, 4), // MSH-6
    hl7Timestamp(options.now ?? new Date()), // MSH-7
    '', // MSH-8 security
    `ACK${d.component}${trigger}${d.component}ACK`, // MSH-9
    esc(options.controlId ?? newControlId()), // MSH-10
    rawField(msh, d, 11) || 'P', // MSH-11 processing id
    rawField(msh, d, 12) || version, // MSH-12 version
    '', // MSH-13
    '', // MSH-14
    enhanced ? 'NE' : '', // MSH-15: an acknowledgement is never acknowledged
    enhanced ? 'NE' : '', // MSH-16
    rawField(msh, d, 17), // MSH-17 country
    rawField(msh, d, 18), // MSH-18 character set, echoed
  ];
  while (mshFields.length > 12 && mshFields[mshFields.length - 1] === '') mshFields.pop();
  const segments = [mshFields.join(d.field)];

  const originalControlId = rawField(msh, d, 10);
  const old = isBefore25(version);
  const msa = ['MSA', code, originalControlId];
  if (error && old) msa.push(esc(error.reason));
  segments.push(msa.join(d.field));

  if (error) {
    const text = HL7_ERROR_TEXT[error.code] ?? '';
    const codedError = [esc(error.code), esc(text), 'HL70357'].join(d.component);
    const location = [esc(error.segment ?? ''), error.segmentIndex ?? '', error.field ?? ''].join(d.component).replace(new RegExp(`[${escapeRegExp(d.component)}]+$`), '');
    if (old) {
      const cm = [esc(error.segment ?? ''), error.segmentIndex ?? '', error.field ?? '', [esc(error.code), esc(text), 'HL70357'].join(d.subcomponent)];
      segments.push(['ERR', cm.join(d.component)].join(d.field));
    } else {
      // ERR-1 (withdrawn) empty, ERR-2 location, ERR-3 code, ERR-4 severity, ERR-5..7 empty, ERR-8 user message.
      segments.push(['ERR', '', location, codedError, error.severity ?? 'E', '', '', '', esc(error.reason)].join(d.field));
    }
  }
  return segments.join('\r');
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|-]/g, '\\$&');
}
