/**
 * Parses one decoded HL7 v2 message into segments, fields, repetitions, components and
 * subcomponents (HL7 v2.x chapter 2; numbering as in v2.5.1: §2.5 message framework, §2.6.2
 * encoding rules for receiving, §2.15.9 MSH). Works for v2.2 to v2.8.
 *
 * - Segments end with CR (§2.5.2); LF and CRLF are accepted too, blank lines are ignored.
 * - Delimiters come from MSH-1 and MSH-2 (4 or 5 encoding characters; see delimiters.ts).
 * - Values are decoded (escape sequences, §2.7) only when read, in the leaves; `\X..\` uses the
 *   decoder passed in, which should decode in the message's charset (charset.ts hexDecoderFor).
 * - Structural errors throw Hl7ParseError with a reason, a position and an HL7 error code.
 *
 * Input text must already be decoded from bytes with the right charset (charset.ts): never split
 * undecoded GBK bytes.
 */
import { readDelimiters } from './delimiters.ts';
import type { Hl7Delimiters } from './delimiters.ts';
import { Hl7ParseError } from './errors.ts';
import { latin1HexDecoder } from './escape.ts';
import type { HexDecoder } from './escape.ts';
import type { Hl7EncodingContext } from './field.ts';
import { parseHl7Path } from './path.ts';
import { Hl7Segment } from './segment.ts';

export interface ParseOptions {
  /** Decoder for `\Xhh…\` escapes, in the message's charset. Default: ISO 8859-1. */
  decodeHex?: HexDecoder;
}

export interface Hl7MessageType {
  /** MSH-9.1, e.g. `ADT`. */
  code: string;
  /** MSH-9.2, e.g. `A01` ('' in v2.x ACKs that omit it). */
  triggerEvent: string;
  /** MSH-9.3, e.g. `ADT_A01` ('' before v2.3.1 or when not sent). */
  structure: string;
}

/** Segments that frame batches and files, and so never appear inside a message. */
const ENVELOPE_SEGMENTS: ReadonlySet<string> = new Set(['MSH', 'FHS', 'BHS', 'BTS', 'FTS']);

const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;

/** Splits text into segment lines on CR, LF or CRLF; drops blank lines and a leading BOM. */
export function splitSegmentLines(text: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return body.split(/\r\n|\r|\n/).filter((line) => line.trim() !== '');
}

/** Checks a line's segment name: three characters then the field separator or end of line. */
export function checkSegmentName(line: string, index: number, fieldSeparator: string): void {
  const name = line.slice(0, 3);
  const next = line[3];
  if (!SEGMENT_NAME.test(name) || (next !== undefined && next !== fieldSeparator)) {
    throw new Hl7ParseError(
      'bad-segment-name',
      `segment does not start with a valid name and field separator: ${JSON.stringify(line.slice(0, 12))}`,
      { segment: '', segmentIndex: index },
    );
  }
}

export class Hl7Message {
  readonly delimiters: Hl7Delimiters;
  readonly #segments: readonly Hl7Segment[];

  constructor(segments: readonly Hl7Segment[], delimiters: Hl7Delimiters) {
    this.#segments = segments;
    this.delimiters = delimiters;
  }

  /** All segments in order, or those with the given name (Z-segments included). */
  segments(name?: string): Hl7Segment[] {
    return name === undefined ? [...this.#segments] : this.#segments.filter((s) => s.name === name);
  }

  /** The n-th segment with this name (1-based), or undefined. */
  segment(name: string, occurrence = 1): Hl7Segment | undefined {
    let seen = 0;
    for (const s of this.#segments) if (s.name === name && ++seen === occurrence) return s;
    return undefined;
  }

  get msh(): Hl7Segment {
    return this.#segments[0]!;
  }

  /**
   * The decoded value at a path such as `PID-3[2].1`, `OBX[2]-5`, `MSH-9.2`; '' when absent.
   * Stops at the first subcomponent of the first component unless the path says otherwise.
   */
  get(path: string): string {
    const p = parseHl7Path(path);
    if (p.segment === undefined) throw new RangeError(`HL7 path ${JSON.stringify(path)} needs a segment name`);
    const segment = this.segment(p.segment, p.segmentOccurrence);
    if (!segment) return '';
    return segment.field(p.field).repetition(p.repetition).subcomponent(p.component, p.subcomponent);
  }

  get messageType(): Hl7MessageType {
    const field = this.msh.field(9);
    return { code: field.component(1), triggerEvent: field.component(2), structure: field.component(3) };
  }

  /** MSH-10 Message Control ID. */
  get controlId(): string {
    return this.msh.field(10).value;
  }

  /** MSH-11.1 Processing ID (P, D, T). */
  get processingId(): string {
    return this.msh.field(11).value;
  }

  /** MSH-12.1 Version ID, e.g. `2.5.1`. */
  get version(): string {
    return this.msh.field(12).value;
  }

  /** MSH-15 Accept Acknowledgment Type ('' means original acknowledgement mode). */
  get acceptAckType(): string {
    return this.msh.field(15).value;
  }

  /** MSH-16 Application Acknowledgment Type. */
  get applicationAckType(): string {
    return this.msh.field(16).value;
  }

  /** MSH-18 Character Set, first repetition, as sent. */
  get characterSet(): string {
    return this.msh.field(18).value;
  }

  /** The message re-joined with CR segment terminators (as received, after charset decoding). */
  toString(): string {
    return this.#segments.map((s) => s.raw).join('\r');
  }
}

/** Builds a message from its segment lines (the first must be MSH); see parseMessage. */
export function parseMessageLines(lines: readonly string[], options: ParseOptions = {}): Hl7Message {
  const first = lines[0];
  if (first === undefined) throw new Hl7ParseError('empty', 'the message has no segments', { segment: '', segmentIndex: 1 });
  if (!first.startsWith('MSH')) {
    throw new Hl7ParseError('missing-msh', `the first segment is ${JSON.stringify(first.slice(0, 3))}, not MSH`, {
      segment: SEGMENT_NAME.test(first.slice(0, 3)) ? first.slice(0, 3) : '',
      segmentIndex: 1,
    });
  }
  const delimiters = readDelimiters(first, 1);
  const context: Hl7EncodingContext = { delimiters, decodeHex: options.decodeHex ?? latin1HexDecoder };
  const msh = new Hl7Segment(first, 1, context);
  const segments = [msh];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    checkSegmentName(line, i + 1, delimiters.field);
    const name = line.slice(0, 3);
    if (ENVELOPE_SEGMENTS.has(name)) {
      throw new Hl7ParseError('unexpected-segment', `${name} inside a message (use parseBatch for batches)`, {
        segment: name,
        segmentIndex: i + 1,
      }, msh);
    }
    segments.push(new Hl7Segment(line, i + 1, context));
  }
  const message = new Hl7Message(segments, delimiters);
  const required = (field: number, value: string, reason: 'missing-message-type' | 'missing-control-id' | 'missing-version-id', what: string) => {
    if (value.trim() === '') throw new Hl7ParseError(reason, `${what} is empty`, { segment: 'MSH', segmentIndex: 1, field }, msh);
  };
  required(9, message.messageType.code, 'missing-message-type', 'message type (MSH-9.1)');
  required(10, message.controlId, 'missing-control-id', 'message control id');
  required(12, message.version, 'missing-version-id', 'version id (MSH-12.1)');
  return message;
}

/** Parses one decoded message. Throws Hl7ParseError when it is not a well-formed HL7 v2 message. */
export function parseMessage(text: string, options: ParseOptions = {}): Hl7Message {
  return parseMessageLines(splitSegmentLines(text), options);
}
