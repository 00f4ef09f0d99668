/**
 * Escape sequences in field values (HL7 v2.5.1 §2.7 "Use of escape sequences in text fields":
 * §2.7.1 formatting codes, §2.7.3 highlighting, §2.7.4 special characters, §2.7.5 hexadecimal,
 * §2.7.7 local; v2.7 §2.7.4 adds `\P\` for the truncation character).
 *
 * Decoded: `\F\ \S\ \T\ \R\ \E\ \P\` → the delimiter; `\Xhh…\` → bytes decoded in the message's
 * charset by the caller's function; `\.br\` → "\n"; `\.sp n\` → n line breaks; other formatting
 * commands (`\.fi\ \.nf\ \.in\ \.ti\ \.sk\ \.ce\`) and highlighting (`\H\ \N\`) are dropped.
 * Kept as sent: charset switches (`\C…\ \M…\`), local escapes (`\Z…\`), malformed or unknown
 * sequences and an escape character without a closing one.
 */
import type { Hl7Delimiters } from './delimiters.ts';

/** Turns the bytes of a `\Xhh…\` sequence into text (see charset.ts hexDecoderFor). */
export type HexDecoder = (bytes: Uint8Array) => string;

/** Reads hex bytes as ISO 8859-1; for callers that do not know the charset. */
export const latin1HexDecoder: HexDecoder = (bytes) => Buffer.from(bytes).toString('latin1');

function decodeSequence(code: string, delimiters: Hl7Delimiters, decodeHex: HexDecoder): string | undefined {
  switch (code) {
    case 'F':
      return delimiters.field;
    case 'S':
      return delimiters.component;
    case 'T':
      return delimiters.subcomponent;
    case 'R':
      return delimiters.repetition;
    case 'E':
      return delimiters.escape;
    case 'P':
      return delimiters.truncation || undefined;
    case 'H':
    case 'N':
      return '';
  }
  if (code[0] === 'X') {
    const hex = code.slice(1);
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
    return decodeHex(Buffer.from(hex, 'hex'));
  }
  if (code[0] === '.') {
    const format = /^\.(br|sp|fi|nf|in|ti|sk|ce)\s*([+-]?\d+)?$/.exec(code);
    if (!format) return undefined;
    if (format[1] === 'br') return '\n';
    if (format[1] === 'sp') return '\n'.repeat(Math.max(1, Number(format[2] ?? 1)));
    return '';
  }
  return undefined;
}

/** Decodes the escape sequences in one leaf value (a subcomponent, or a component without any). */
export function unescapeValue(value: string, delimiters: Hl7Delimiters, decodeHex: HexDecoder = latin1HexDecoder): string {
  const escape = delimiters.escape;
  let open = value.indexOf(escape);
  if (open < 0) return value;
  let out = '';
  let from = 0;
  while (open >= 0) {
    const close = value.indexOf(escape, open + 1);
    if (close < 0) break;
    const decoded = decodeSequence(value.slice(open + 1, close), delimiters, decodeHex);
    if (decoded === undefined) {
      // An unknown or malformed sequence stays as sent.
      out += value.slice(from, close + 1);
    } else {
      out += value.slice(from, open) + decoded;
    }
    from = close + 1;
    open = value.indexOf(escape, from);
  }
  return out + value.slice(from);
}

/**
 * Escapes text for a field value (for ACK/ERR text): the delimiters become `\F\ \S\ \T\ \R\ \E\`
 * (`\P\` for the truncation character), CR and LF become `\X0D\` and `\X0A\`.
 */
export function escapeValue(text: string, delimiters: Hl7Delimiters): string {
  const map = new Map<string, string>([
    [delimiters.escape, 'E'],
    [delimiters.field, 'F'],
    [delimiters.component, 'S'],
    [delimiters.subcomponent, 'T'],
    [delimiters.repetition, 'R'],
    ['\r', 'X0D'],
    ['\n', 'X0A'],
  ]);
  if (delimiters.truncation) map.set(delimiters.truncation, 'P');
  let out = '';
  for (const c of text) {
    const code = map.get(c);
    out += code === undefined ? c : `${delimiters.escape}${code}${delimiters.escape}`;
  }
  return out;
}
