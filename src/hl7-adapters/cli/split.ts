/**
 * Splits a file's bytes into the MLLP frames `carebridge hl7 send` sends (HL7 v2.5.1 §2.5.2
 * segments end with CR; §2.10.3 batch protocol FHS/BHS … BTS/FTS; MLLP Release 1 §2: one frame
 * per message, or one frame for a whole batch).
 *
 * Works on bytes, never on decoded text, so the bytes sent are the file's bytes whatever its
 * charset: only segment terminators change (CRLF and LF become CR, blank lines go). That is safe
 * for GBK and GB 18030 too, whose trail bytes are never 0x0A or 0x0D, so a byte after CR always
 * starts a character and `MSH` there really starts a segment.
 *
 * - Several messages back to back: split before every line that starts with `MSH`; anything
 *   before the first MSH (a byte order mark) stays with the first message.
 * - A file with any FHS, BHS, BTS or FTS line is a batch: one frame, all of it.
 * - MLLP framing bytes (VT 0x0B, FS 0x1C) in a file saved from an MLLP capture end a line like
 *   CR does; they cannot be sent inside a frame anyway. No GBK or GB 18030 byte is 0x0B or 0x1C.
 */

const CR = 0x0d;
const LF = 0x0a;
const VT = 0x0b;
const FS = 0x1c;

export interface SplitMessage {
  /** 1-based position of the message in its file (batch messages count one by one). */
  index: number;
  /** The message's MSH line, for reading MSH-10 (see ack-summary.ts controlIdOf). */
  msh: Buffer;
}

export interface SplitFrame {
  /** The bytes to wrap in one MLLP frame: segments each ending with CR. */
  payload: Buffer;
  /** The messages in this frame: one, or every MSH of a batch (each gets its own ACK). */
  messages: SplitMessage[];
  batch: boolean;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const GB18030_BOM = [0x84, 0x31, 0x95, 0x33];

/** The line's bytes after a byte order mark, for looking at the segment name. */
function withoutBom(line: Buffer): Buffer {
  for (const bom of [UTF8_BOM, GB18030_BOM]) if (bom.every((b, i) => line[i] === b)) return line.subarray(bom.length);
  return line;
}

function startsWith(line: Buffer, name: string): boolean {
  return line.length >= 3 && line.toString('latin1', 0, 3) === name;
}

/** True for a line of nothing but spaces and tabs (a blank line, not a segment). */
function isBlank(line: Buffer): boolean {
  return line.every((b) => b === 0x20 || b === 0x09);
}

/** The file's lines, split on CR, LF or CRLF (and VT, FS), blank lines dropped. */
export function segmentLines(bytes: Uint8Array): Buffer[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= buffer.length; i++) {
    const byte = buffer[i];
    if (i < buffer.length && byte !== CR && byte !== LF && byte !== VT && byte !== FS) continue;
    const line = buffer.subarray(start, i);
    if (!isBlank(line)) lines.push(line);
    if (byte === CR && buffer[i + 1] === LF) i++;
    start = i + 1;
  }
  return lines;
}

function joinSegments(lines: readonly Buffer[]): Buffer {
  const cr = Buffer.from([CR]);
  return Buffer.concat(lines.flatMap((line) => [line, cr]));
}

const BATCH_SEGMENTS = ['FHS', 'BHS', 'BTS', 'FTS'];

/** Splits a file into frames; a file without any segment gives none. */
export function splitHl7File(bytes: Uint8Array): SplitFrame[] {
  const lines = segmentLines(bytes);
  const names = lines.map((line, i) => (i === 0 ? withoutBom(line) : line));
  const isMsh = names.map((line) => startsWith(line, 'MSH'));
  if (names.some((line) => BATCH_SEGMENTS.some((name) => startsWith(line, name)))) {
    const messages = lines.filter((_, i) => isMsh[i]).map((msh, i) => ({ index: i + 1, msh }));
    // A batch without messages still gets an answer (an ACK, or the server closing): count it as one.
    if (messages.length === 0) messages.push({ index: 1, msh: Buffer.alloc(0) });
    return [{ payload: joinSegments(lines), messages, batch: true }];
  }
  const groups: Buffer[][] = [];
  lines.forEach((line, i) => {
    if (isMsh[i] || groups.length === 0) groups.push([]);
    groups[groups.length - 1]!.push(line);
  });
  return groups.map((group, i) => ({ payload: joinSegments(group), messages: [{ index: i + 1, msh: group[0]! }], batch: false }));
}
