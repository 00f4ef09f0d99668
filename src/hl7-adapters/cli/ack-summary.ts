/**
 * Reads what `carebridge hl7 send` prints: a sent message's MSH-10, and each acknowledgement's
 * MSA-1 code, MSA-2 control id and error reason (HL7 v2.5.1 §2.9 acknowledgements, §2.14.1 ACK,
 * §2.15.8 MSA, §2.15.5 ERR, Table 0008). Bytes are decoded first, in the charset MSH-18 names
 * (parse/charset.ts), never split raw: a GBK trail byte may equal `|`.
 */
import { isUtf8 } from 'node:buffer';
import { decodeHl7Bytes, hexDecoderFor } from '../parse/charset.ts';
import { parseBatch } from '../parse/batch.ts';
import { readDelimiters } from '../parse/delimiters.ts';
import { Hl7ParseError } from '../parse/errors.ts';
import type { Hl7Message } from '../parse/message.ts';
import { Hl7Segment } from '../parse/segment.ts';

/** Table 0008 codes that mean the message was accepted. */
export const ACCEPTED_CODES: ReadonlySet<string> = new Set(['AA', 'CA']);

export interface AckSummary {
  /** MSA-1 ('' when the ACK could not be read). */
  code: string;
  /** MSA-2: the acknowledged message's MSH-10. */
  controlId: string;
  /** Why the message was not accepted (ERR-8, ERR-3.2, MSA-3 or ERR-1), '' when none given. */
  reason: string;
  /** Table 0357 code (ERR-3.1, or ERR-1.4.1 before v2.5), '' when none given. */
  errorCode: string;
}

/**
 * Charset for bytes whose MSH-18 is empty or unknown: UTF-8 when they are valid UTF-8, else
 * GB 18030 (a superset of GBK and GB2312, what the hospitals we serve send). Only used to read
 * MSH-10 and ACKs for display; the bytes sent are never re-encoded.
 */
function fallbackCharset(bytes: Uint8Array): string {
  return isUtf8(bytes) ? 'UTF-8' : 'GB18030';
}

/** MSH-10 of a message, from its MSH line; '' when the line is not a readable MSH. */
export function controlIdOf(mshLine: Uint8Array): string {
  const decoded = decodeHl7Bytes(mshLine, { defaultCharset: fallbackCharset(mshLine) });
  const line = decoded.text.split(/\r|\n/)[0] ?? '';
  if (!line.startsWith('MSH')) return '';
  try {
    return new Hl7Segment(line, 1, { delimiters: readDelimiters(line), decodeHex: hexDecoderFor(decoded.charset) }).field(10).value;
  } catch (error) {
    if (!(error instanceof Hl7ParseError)) throw error;
    return '';
  }
}

function summarise(message: Hl7Message): AckSummary {
  const msa = message.segment('MSA');
  if (!msa) return { code: '', controlId: '', reason: 'the acknowledgement has no MSA segment', errorCode: '' };
  const errs = message.segments('ERR');
  // The free-text reason first (v2.5+ ERR-8, before v2.5 MSA-3), else the code's text (ERR-3.2, ERR-1.4.2).
  const texts = (read: (err: Hl7Segment) => string) => errs.map(read).filter((r) => r !== '').join('; ');
  const reason =
    texts((err) => err.field(8).value) || msa.field(3).value || texts((err) => err.field(3).component(2) || err.field(1).repetition(1).subcomponent(4, 2));
  const errorCodes = errs.map((err) => err.field(3).component(1) || err.field(1).repetition(1).subcomponent(4, 1));
  return { code: msa.field(1).value, controlId: msa.field(2).value, reason, errorCode: errorCodes.find((c) => c !== '') ?? '' };
}

/** The acknowledgements in one received frame: one ACK, or several when the server batches them. */
export function readAcks(frame: Uint8Array): AckSummary[] {
  const decoded = decodeHl7Bytes(frame, { defaultCharset: fallbackCharset(frame) });
  let entries;
  try {
    entries = parseBatch(decoded.text, { decodeHex: hexDecoderFor(decoded.charset) }).entries;
  } catch (error) {
    if (!(error instanceof Hl7ParseError)) throw error;
    return [{ code: '', controlId: '', reason: `unreadable acknowledgement: ${error.message}`, errorCode: '' }];
  }
  if (entries.length === 0) return [{ code: '', controlId: '', reason: 'empty acknowledgement frame', errorCode: '' }];
  return entries.map((entry) =>
    entry.ok ? summarise(entry.message) : { code: '', controlId: '', reason: `unreadable acknowledgement: ${entry.error.message}`, errorCode: '' },
  );
}
