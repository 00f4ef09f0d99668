/**
 * Chooses a message's character set and decodes its bytes to text BEFORE any field is split
 * (HL7 v2.5.1 §2.15.9.18 MSH-18 Character Set, Table 0211; §2.7.2 "Escape sequences supporting
 * multiple character sets"). In GBK many Chinese characters have a trail byte equal to `|`, `^`,
 * `~` or `\`, so splitting raw bytes on delimiters corrupts names; decoding first does not.
 *
 * Order of evidence:
 * 1. A byte order mark (UTF-8, or GB 18030's 0x84 0x31 0x95 0x33): the bytes are in that charset
 *    (BOM removed). Source `msh-18` when MSH-18 agrees, else `bom`.
 * 2. MSH-18 (first repetition), when recognised and consistent with the bytes: declared UTF-8
 *    must be valid UTF-8, declared ASCII must be 7-bit. Source `msh-18`.
 * 3. The caller's per-sender default, when MSH-18 is empty, unknown or contradicted by the bytes
 *    (each case adds a warning). Source `default`.
 *
 * Decoding uses iconv-lite; `encodeHl7Text` encodes replies (ACKs) back in the same charset.
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { lookupCharset } from './charset-names.ts';
import type { CharsetInfo } from './charset-names.ts';
import { readMsh18 } from './msh18.ts';

export type CharsetSource = 'msh-18' | 'bom' | 'default';

export type CharsetWarningCode =
  | 'unknown-charset'
  | 'invalid-utf-8'
  | 'non-ascii-in-ascii'
  | 'bom-conflicts-with-msh-18'
  | 'replacement-characters';

export interface CharsetWarning {
  code: CharsetWarningCode;
  message: string;
}

export interface DecodedHl7 {
  /** The message text, BOM removed. */
  text: string;
  /** The iconv-lite encoding used (`utf-8`, `gb18030`, `gbk`, `iso-8859-1`, `ascii`, …). */
  charset: string;
  source: CharsetSource;
  /** MSH-18's first repetition exactly as sent ('' when empty; echo it in the ACK's MSH-18). */
  declared: string;
  warnings: CharsetWarning[];
}

export interface DecodeOptions {
  /** The sender's default character set (any label lookupCharset knows, e.g. `GBK`, `UTF-8`). */
  defaultCharset: string;
}

interface ByteOrderMark {
  bytes: readonly number[];
  charset: CharsetInfo;
  /** MSH-18 encodings that agree with this BOM. */
  compatible: readonly string[];
}

/** Byte order marks of the charsets read byte-wise or lead/trail (UTF-16/32 are not supported). */
const BYTE_ORDER_MARKS: readonly ByteOrderMark[] = [
  { bytes: [0xef, 0xbb, 0xbf], charset: lookupCharset('UTF-8')!, compatible: ['utf-8', 'ascii'] },
  { bytes: [0x84, 0x31, 0x95, 0x33], charset: lookupCharset('GB18030')!, compatible: ['gb18030', 'gbk', 'ascii'] },
];

function byteOrderMark(bytes: Uint8Array): ByteOrderMark | undefined {
  return BYTE_ORDER_MARKS.find((bom) => bom.bytes.every((b, i) => bytes[i] === b));
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** True when the label names a character set this module can decode (use to validate configuration). */
export function isSupportedCharset(label: string): boolean {
  return lookupCharset(label) !== undefined;
}

/**
 * MSH-18 read with both delimiter scans. When they disagree (a GBK trail byte equal to the field
 * separator before MSH-18, or UTF-8 bytes misread as GBK lead bytes), the reading whose own
 * charset uses that scan wins; a tie goes to the byte-wise reading when the bytes are valid UTF-8.
 */
function readDeclaredCharset(bytes: Uint8Array, ascii: boolean, utf8: boolean): string {
  const bytewise = readMsh18(bytes, 'bytewise') ?? '';
  if (ascii) return bytewise;
  const leadTrail = readMsh18(bytes, 'lead-trail') ?? '';
  if (leadTrail === bytewise) return bytewise;
  const leadTrailFits = lookupCharset(leadTrail)?.scan === 'lead-trail';
  const bytewiseFits = lookupCharset(bytewise)?.scan === 'bytewise';
  if (leadTrailFits && (!bytewiseFits || !utf8)) return leadTrail;
  return bytewise;
}

function resolveDefault(label: string): CharsetInfo {
  const info = lookupCharset(label);
  if (!info) throw new RangeError(`Unsupported default character set: ${JSON.stringify(label)}`);
  return info;
}

/** Decodes one message's (or batch's) bytes; never throws on content, only on a bad default. */
export function decodeHl7Bytes(input: Uint8Array, options: DecodeOptions): DecodedHl7 {
  const fallback = resolveDefault(options.defaultCharset);
  const bom = byteOrderMark(input);
  const bytes = bom ? input.subarray(bom.bytes.length) : input;
  const ascii = isAscii(bytes);
  const utf8 = ascii || isUtf8(bytes);
  const declared = readDeclaredCharset(bytes, ascii, utf8);
  const declaredInfo = declared === '' ? undefined : lookupCharset(declared);
  const warnings: CharsetWarning[] = [];

  let chosen: CharsetInfo;
  let source: CharsetSource;
  if (bom) {
    chosen = bom.charset;
    const compatible = declaredInfo !== undefined && bom.compatible.includes(declaredInfo.encoding);
    source = compatible ? 'msh-18' : 'bom';
    if (declaredInfo && !compatible) {
      warnings.push({
        code: 'bom-conflicts-with-msh-18',
        message: `MSH-18 is ${JSON.stringify(declared)} but the bytes start with a ${bom.charset.encoding} byte order mark; decoded as ${bom.charset.encoding}`,
      });
    }
  } else if (declaredInfo && declaredInfo.encoding === 'utf-8' && !utf8) {
    warnings.push({
      code: 'invalid-utf-8',
      message: `MSH-18 is ${JSON.stringify(declared)} but the bytes are not valid UTF-8; decoded with the sender default ${options.defaultCharset}`,
    });
    [chosen, source] = [fallback, 'default'];
  } else if (declaredInfo && declaredInfo.encoding === 'ascii' && !ascii) {
    warnings.push({
      code: 'non-ascii-in-ascii',
      message: `MSH-18 is ${JSON.stringify(declared)} but the bytes are not 7-bit; decoded with the sender default ${options.defaultCharset}`,
    });
    [chosen, source] = [fallback, 'default'];
  } else if (declaredInfo) {
    [chosen, source] = [declaredInfo, 'msh-18'];
  } else {
    if (declared !== '') {
      warnings.push({
        code: 'unknown-charset',
        message: `MSH-18 ${JSON.stringify(declared)} is not a supported character set; decoded with the sender default ${options.defaultCharset}`,
      });
    }
    [chosen, source] = [fallback, 'default'];
  }

  if (source !== 'msh-18' && chosen.encoding === 'utf-8' && !utf8 && !warnings.some((w) => w.code === 'invalid-utf-8')) {
    warnings.push({ code: 'invalid-utf-8', message: 'The bytes are not valid UTF-8; invalid sequences became U+FFFD' });
  }

  let text = iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), chosen.encoding);
  // A second BOM, or one in a charset chosen by MSH-18 or the default.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (chosen.encoding !== 'utf-8' && text.includes('\uFFFD')) {
    warnings.push({
      code: 'replacement-characters',
      message: `Some bytes are not valid ${chosen.encoding} and became U+FFFD`,
    });
  }
  return { text, charset: chosen.encoding, source, declared, warnings };
}

/** Encodes reply text (e.g. an ACK) in a charset returned by decodeHl7Bytes, without a BOM. */
export function encodeHl7Text(text: string, charset: string): Buffer {
  return iconv.encode(text, charset);
}

/**
 * A decoder for `\Xhh…\` escape sequences in the message's charset (HL7 v2.5.1 §2.7.5). For
 * ASCII messages the bytes are read as ISO 8859-1, so `\XB0\` stays a visible character.
 */
export function hexDecoderFor(charset: string): (bytes: Uint8Array) => string {
  const encoding = charset === 'ascii' ? 'iso-8859-1' : charset;
  return (bytes) => iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), encoding);
}
