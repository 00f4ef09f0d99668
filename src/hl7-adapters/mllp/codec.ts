/**
 * MLLP block framing, both directions (HL7 Version 2 Transport Specification: MLLP, Release 1 —
 * "Minimal Lower Layer Protocol", section 2 "Block format"; also HL7 v2.5.1 Implementation Guide
 * appendix C.4):
 *
 *     <SB> payload <EB><CR>      SB = 0x0B (VT), EB = 0x1C (FS), CR = 0x0D
 *
 * The decoder is a small state machine fed raw Buffers as they arrive from a socket. It never
 * turns bytes into text: the payload's character set is only known after reading MSH-18
 * (see ../parse/charset.ts). What it guarantees:
 * - several frames in one chunk, one frame over many chunks (split anywhere, also between EB and
 *   CR) decode to exactly the frames sent, in order, each once;
 * - bytes outside a frame (before SB) are discarded and counted (`junkBytes`);
 * - a frame longer than `maxMessageBytes` yields one `oversize` error as soon as the limit is
 *   crossed; the rest of that frame is skipped without buffering until the next SB;
 * - an SB inside a frame is a protocol error (`start-in-frame`): the partial frame is dropped and
 *   the SB starts a new frame; an EB not followed by CR is `missing-end-cr` (frame dropped);
 * - `end()` at connection close reports a frame that never finished (`truncated`).
 */

/** Start Block character (VT). */
export const START_BLOCK = 0x0b;
/** End Block character (FS). */
export const END_BLOCK = 0x1c;
/** Carriage Return, which must follow the End Block character. */
export const CARRIAGE_RETURN = 0x0d;

/** Default maximum payload size: 1 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export type MllpErrorReason = 'oversize' | 'start-in-frame' | 'missing-end-cr' | 'truncated';

export type MllpEvent =
  /** A complete frame's payload (a fresh copy; may be empty for `<SB><EB><CR>`). */
  | { type: 'message'; payload: Buffer }
  /** A frame that was dropped; `droppedBytes` counts the payload bytes discarded so far. */
  | { type: 'error'; reason: MllpErrorReason; droppedBytes: number };

export interface MllpDecoderOptions {
  /** Largest accepted payload in bytes (SB/EB/CR excluded). Default 1 MiB. */
  maxMessageBytes?: number;
}

type State = 'idle' | 'frame' | 'end-block' | 'skip';

export class MllpDecoder {
  readonly maxMessageBytes: number;
  #state: State = 'idle';
  #parts: Buffer[] = [];
  #ownedParts = 0;
  #size = 0;
  #junkBytes = 0;
  #droppedBytes = 0;

  constructor(options: MllpDecoderOptions = {}) {
    const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxMessageBytes must be a positive integer, got ${max}`);
    this.maxMessageBytes = max;
  }

  /** Bytes seen outside any frame (before a start block), discarded. */
  get junkBytes(): number {
    return this.#junkBytes;
  }

  /** Bytes discarded because their frame was in error (for oversize: everything up to the next SB). */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /** Payload bytes of the current, unfinished frame held in memory (never above maxMessageBytes). */
  get bufferedBytes(): number {
    return this.#size;
  }

  /** True while a frame has started but not ended. */
  get inFrame(): boolean {
    return this.#state === 'frame' || this.#state === 'end-block';
  }

  /** Feeds one chunk; returns the frames completed and errors found in it, in order. */
  push(chunk: Uint8Array): MllpEvent[] {
    const events: MllpEvent[] = [];
    const n = chunk.length;
    // Start (in this chunk) of the payload bytes of the current frame not yet copied to #parts.
    let runStart = 0;
    for (let i = 0; i < n; i++) {
      const byte = chunk[i];
      switch (this.#state) {
        case 'idle':
          if (byte === START_BLOCK) {
            this.#startFrame();
            runStart = i + 1;
          } else this.#junkBytes++;
          break;
        case 'frame':
          if (byte === END_BLOCK) {
            this.#append(chunk, runStart, i);
            this.#state = 'end-block';
          } else if (byte === START_BLOCK) {
            events.push(this.#dropFrame('start-in-frame', i - runStart));
            this.#startFrame();
            runStart = i + 1;
          } else if (this.#size + (i + 1 - runStart) > this.maxMessageBytes) {
            events.push(this.#dropFrame('oversize', i + 1 - runStart));
            this.#state = 'skip';
          }
          break;
        case 'end-block':
          if (byte === CARRIAGE_RETURN) {
            events.push({ type: 'message', payload: Buffer.concat(this.#parts, this.#size) });
            this.#parts = [];
            this.#ownedParts = 0;
            this.#size = 0;
            this.#state = 'idle';
          } else {
            events.push(this.#dropFrame('missing-end-cr', 0));
            if (byte === START_BLOCK) {
              this.#startFrame();
              runStart = i + 1;
            } else {
              this.#state = 'idle';
              this.#junkBytes++;
            }
          }
          break;
        case 'skip':
          if (byte === START_BLOCK) {
            this.#startFrame();
            runStart = i + 1;
          } else this.#droppedBytes++;
          break;
      }
    }
    if (this.#state === 'frame') this.#append(chunk, runStart, n);
    if (this.inFrame) this.#ownParts();
    return events;
  }

  /** Call when the connection closes: reports an unfinished frame and resets. */
  end(): MllpEvent[] {
    const events: MllpEvent[] = [];
    if (this.inFrame) events.push(this.#dropFrame('truncated', 0));
    this.#state = 'idle';
    return events;
  }

  #startFrame(): void {
    this.#state = 'frame';
    this.#parts = [];
    this.#ownedParts = 0;
    this.#size = 0;
  }

  /** Appends a view of chunk[from, to) to the current frame (copied later if the frame outlives the chunk). */
  #append(chunk: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    this.#parts.push(Buffer.from(chunk.buffer, chunk.byteOffset + from, to - from));
    this.#size += to - from;
  }

  /** Copies the parts that still point into the caller's chunk: the caller may reuse its buffer. */
  #ownParts(): void {
    for (let k = this.#ownedParts; k < this.#parts.length; k++) this.#parts[k] = Buffer.from(this.#parts[k]!);
    this.#ownedParts = this.#parts.length;
  }

  /** Drops the current frame; `unbuffered` counts its bytes in the current chunk not yet appended. */
  #dropFrame(reason: MllpErrorReason, unbuffered: number): MllpEvent {
    const droppedBytes = this.#size + unbuffered;
    this.#droppedBytes += droppedBytes;
    this.#parts = [];
    this.#ownedParts = 0;
    this.#size = 0;
    this.#state = 'idle';
    return { type: 'error', reason, droppedBytes };
  }
}

/**
 * Wraps one payload in an MLLP block. The payload must not contain SB or EB (they cannot be
 * escaped in MLLP; HL7 text in ASCII, UTF-8, GBK or GB18030 never contains them).
 */
export function encode(payload: Uint8Array): Buffer {
  if (payload.includes(START_BLOCK) || payload.includes(END_BLOCK)) {
    throw new RangeError('MLLP payload must not contain the start block (0x0B) or end block (0x1C) byte');
  }
  const frame = Buffer.allocUnsafe(payload.length + 3);
  frame[0] = START_BLOCK;
  frame.set(payload, 1);
  frame[payload.length + 1] = END_BLOCK;
  frame[payload.length + 2] = CARRIAGE_RETURN;
  return frame;
}
