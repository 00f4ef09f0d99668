/**
 * Why a message could not be parsed, where, and the HL7 error code (Table 0357, used in ERR-3 of
 * the AR acknowledgement; HL7 v2.5.1 §2.15.5 ERR segment, §2.9 acknowledgement rules).
 */
import type { Hl7Segment } from './segment.ts';

export type Hl7ParseErrorReason =
  /** No segments at all. */
  | 'empty'
  /** The first segment is not MSH. */
  | 'missing-msh'
  /** MSH-1 is missing, alphanumeric or a control character. */
  | 'bad-field-separator'
  /** MSH-2 is not 4 or 5 distinct, printable, non-alphanumeric characters. */
  | 'bad-encoding-characters'
  /** A segment does not start with a three-character name (A–Z then A–Z/0–9). */
  | 'bad-segment-name'
  /** A header segment (MSH, BHS, FHS, BTS, FTS) where a message segment was expected. */
  | 'unexpected-segment'
  /** MSH-9.1 (message code) is empty. */
  | 'missing-message-type'
  /** MSH-10 (message control id) is empty. */
  | 'missing-control-id'
  /** MSH-12.1 (version id) is empty. */
  | 'missing-version-id';

/** HL7 Table 0357 (message error condition codes) for each reason. */
const HL7_ERROR_CODES: Record<Hl7ParseErrorReason, string> = {
  'empty': '100', // segment sequence error
  'missing-msh': '100',
  'bad-segment-name': '100',
  'unexpected-segment': '100',
  'bad-field-separator': '102', // data type error
  'bad-encoding-characters': '102',
  'missing-message-type': '101', // required field missing
  'missing-control-id': '101',
  'missing-version-id': '101',
};

export interface Hl7ErrorPosition {
  /** Segment name where known ('' when the segment has no valid name). */
  segment: string;
  /** 1-based position of the segment in the message. */
  segmentIndex: number;
  /** Field number (HL7 numbering, MSH-1 is the field separator), when the error is in one field. */
  field?: number;
}

export class Hl7ParseError extends Error {
  override readonly name = 'Hl7ParseError';
  readonly reason: Hl7ParseErrorReason;
  readonly position: Hl7ErrorPosition;
  /** HL7 Table 0357 code for ERR-3. */
  readonly hl7ErrorCode: string;
  /** The MSH segment when it could be read, so an AR can still echo MSH-10 and swap the sender. */
  readonly msh: Hl7Segment | undefined;

  constructor(reason: Hl7ParseErrorReason, detail: string, position: Hl7ErrorPosition, msh?: Hl7Segment) {
    super(`${locationOf(position)}: ${detail}`);
    this.reason = reason;
    this.position = position;
    this.hl7ErrorCode = HL7_ERROR_CODES[reason];
    this.msh = msh;
  }

  /** `MSH-2` or `PID` (segment 3) style location, as in ERR-2. */
  get location(): string {
    return locationOf(this.position);
  }
}

function locationOf(position: Hl7ErrorPosition): string {
  const name = position.segment || `segment ${position.segmentIndex}`;
  return position.field === undefined ? name : `${name}-${position.field}`;
}
