/**
 * Reads MSH-18 (Character Set) from a message's raw bytes, before the message is decoded
 * (HL7 v2.5.1 §2.15.9 MSH segment, §2.15.9.18; §2.5.4 message delimiters).
 *
 * The MSH segment is found at the start of a line (byte 0 or after CR/LF — neither byte occurs
 * inside GBK, GB 18030, Big5 or UTF-8 characters); a batch's FHS/BHS lines are skipped. The field
 * separator is the byte right after `MSH` (MSH-1), and MSH-2 is skipped like any other field, so
 * unusual encoding characters do no harm. Separators are counted on that one segment only.
 *
 * With `lead-trail` scanning, a byte ≥ 0x81 starts a GBK/GB 18030/Big5 character and its trail
 * byte(s) are skipped, so a Chinese hospital name in MSH-4 whose trail byte is 0x7C (`|`) does not
 * shift the count. With `bytewise` scanning (ASCII, ISO 8859, UTF-8) every byte is looked at.
 */
import type { DelimiterScan } from './charset-names.ts';

const CR = 0x0d;
const LF = 0x0a;
const MSH = [0x4d, 0x53, 0x48];

/** Offset of the first `MSH` that starts a line, or -1. */
export function findMshSegment(bytes: Uint8Array): number {
  for (let at = 0; at + 3 < bytes.length; at++) {
    if (at > 0 && bytes[at - 1] !== CR && bytes[at - 1] !== LF) continue;
    if (bytes[at] === MSH[0] && bytes[at + 1] === MSH[1] && bytes[at + 2] === MSH[2]) return at;
  }
  return -1;
}

/** Length of the character starting at `at` under the scan mode (1 for ASCII bytes). */
function characterLength(bytes: Uint8Array, at: number, scan: DelimiterScan): number {
  const lead = bytes[at]!;
  if (scan === 'bytewise' || lead < 0x81 || lead === 0xff) return 1;
  const second = bytes[at + 1];
  // GB 18030 four-byte form: lead, 0x30–0x39, 0x81–0xFE, 0x30–0x39.
  if (second !== undefined && second >= 0x30 && second <= 0x39) return 4;
  return 2;
}

/**
 * The first repetition of MSH-18, trimmed ('' when absent or empty); undefined when the bytes
 * hold no MSH segment with a field separator. Non-ASCII bytes in the value are kept as Latin-1
 * characters (such a value is not a valid charset name anyway).
 */
export function readMsh18(bytes: Uint8Array, scan: DelimiterScan): string | undefined {
  const msh = findMshSegment(bytes);
  if (msh < 0) return undefined;
  const fieldSeparator = bytes[msh + 3];
  if (fieldSeparator === undefined || fieldSeparator === CR || fieldSeparator === LF) return undefined;
  // MSH-2's second character is the repetition separator; used only to cut MSH-18's first repetition.
  const mshTwo = [bytes[msh + 4], bytes[msh + 5]];
  const repetitionSeparator = mshTwo.every((b) => b !== undefined && b !== fieldSeparator && b !== CR && b !== LF)
    ? mshTwo[1]
    : undefined;

  let field = 2; // the bytes after MSH-1 belong to MSH-2
  let start = -1;
  for (let at = msh + 4; at < bytes.length; ) {
    const byte = bytes[at]!;
    if (byte === CR || byte === LF) break;
    if (byte === fieldSeparator) {
      field++;
      if (field === 18) start = at + 1;
      else if (field === 19) return valueOf(bytes.subarray(start, at), repetitionSeparator);
      at++;
      continue;
    }
    at += characterLength(bytes, at, scan);
  }
  if (start < 0) return '';
  let end = start;
  while (end < bytes.length && bytes[end] !== CR && bytes[end] !== LF) end++;
  return valueOf(bytes.subarray(start, end), repetitionSeparator);
}

function valueOf(field: Uint8Array, repetitionSeparator: number | undefined): string {
  const cut = repetitionSeparator === undefined ? -1 : field.indexOf(repetitionSeparator);
  return Buffer.from(cut < 0 ? field : field.subarray(0, cut)).toString('latin1').trim();
}
