// MLLP Release 1 (HL7 Version 2 Transport Specification), section 2 "Block format":
// <SB=0x0B> payload <EB=0x1C><CR=0x0D>; framing across TCP chunk boundaries, junk, oversize frames,
// protocol errors, and a seeded property test over random messages and random split points.
import { describe, expect, it } from 'vitest';
import { CARRIAGE_RETURN, END_BLOCK, MllpDecoder, START_BLOCK, encode } from './codec.ts';
import type { MllpEvent } from './codec.ts';

const SB = START_BLOCK;
const EB = END_BLOCK;
const CR = CARRIAGE_RETURN;

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

const frame = (text: string): Buffer => encode(Buffer.from(text, 'utf8'));

const messages = (events: MllpEvent[]): string[] =>
  events.flatMap((e) => (e.type === 'message' ? [e.payload.toString('utf8')] : []));

const errors = (events: MllpEvent[]): string[] => events.flatMap((e) => (e.type === 'error' ? [e.reason] : []));

/** Feeds the chunks one by one and collects every event. */
function feed(decoder: MllpDecoder, chunks: Buffer[]): MllpEvent[] {
  return chunks.flatMap((c) => decoder.push(c));
}

describe('encode', () => {
  it('wraps a payload in SB … EB CR', () => {
    expect([...encode(Buffer.from('MSH|x'))]).toEqual([SB, ...Buffer.from('MSH|x'), EB, CR]);
  });
  it('encodes an empty payload', () => {
    expect([...encode(Buffer.alloc(0))]).toEqual([SB, EB, CR]);
  });
  it('refuses payloads containing the framing bytes', () => {
    expect(() => encode(bytes('a', [SB], 'b'))).toThrow(RangeError);
    expect(() => encode(bytes('a', [EB], 'b'))).toThrow(RangeError);
  });
});

describe('MllpDecoder', () => {
  it('decodes one frame in one chunk', () => {
    const d = new MllpDecoder();
    expect(messages(d.push(frame('MSH|^~\\&|A\rPID|1')))).toEqual(['MSH|^~\\&|A\rPID|1']);
    expect(d.inFrame).toBe(false);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes several frames in one chunk, in order', () => {
    const d = new MllpDecoder();
    const events = d.push(Buffer.concat([frame('one'), frame('two'), frame('three')]));
    expect(messages(events)).toEqual(['one', 'two', 'three']);
    expect(errors(events)).toEqual([]);
  });

  it('decodes one frame delivered byte by byte', () => {
    const d = new MllpDecoder();
    const whole = frame('MSH|^~\\&|split everywhere');
    const events = feed(d, [...whole].map((b) => Buffer.from([b])));
    expect(messages(events)).toEqual(['MSH|^~\\&|split everywhere']);
  });

  it('handles a split between the end block and the carriage return', () => {
    const d = new MllpDecoder();
    expect(d.push(bytes([SB], 'abc', [EB]))).toEqual([]);
    expect(d.inFrame).toBe(true);
    expect(messages(d.push(bytes([CR], [SB], 'def', [EB, CR])))).toEqual(['abc', 'def']);
  });

  it('handles a split right after the start block', () => {
    const d = new MllpDecoder();
    expect(d.push(bytes([SB]))).toEqual([]);
    expect(messages(d.push(bytes('xyz', [EB, CR])))).toEqual(['xyz']);
  });

  it('does not keep references to the caller’s chunk of an unfinished frame', () => {
    const d = new MllpDecoder();
    const chunk = bytes([SB], 'hello ');
    d.push(chunk);
    chunk.fill(0x41); // the caller reuses its buffer
    const rest = bytes('world', [EB]);
    d.push(rest);
    rest.fill(0x42);
    expect(messages(d.push(bytes([CR])))).toEqual(['hello world']);
  });

  it('discards and counts junk before the start byte', () => {
    const d = new MllpDecoder();
    const events = d.push(bytes('GET / HTTP/1.1\r\n', frame('MSH|ok').toString('latin1')));
    expect(messages(events)).toEqual(['MSH|ok']);
    expect(d.junkBytes).toBe('GET / HTTP/1.1\r\n'.length);
    // junk between frames, including stray EB/CR bytes, is counted too
    const more = d.push(bytes('\n', [EB, CR], 'zz', frame('MSH|two').toString('latin1')));
    expect(messages(more)).toEqual(['MSH|two']);
    expect(d.junkBytes).toBe('GET / HTTP/1.1\r\n'.length + 5);
  });

  it('accepts a payload of exactly the maximum size', () => {
    const d = new MllpDecoder({ maxMessageBytes: 10 });
    expect(messages(d.push(frame('0123456789')))).toEqual(['0123456789']);
  });

  it('reports an oversize frame once, skips it without buffering, and resynchronises', () => {
    const d = new MllpDecoder({ maxMessageBytes: 10 });
    const big = 'x'.repeat(5000);
    const events = feed(d, [
      bytes([SB], big.slice(0, 8)),
      bytes(big.slice(8, 2000)), // the limit is crossed in this chunk
      bytes(big.slice(2000)),
      bytes([EB, CR], 'junk', [SB], 'small', [EB, CR]),
    ]);
    expect(events[0]).toEqual({ type: 'error', reason: 'oversize', droppedBytes: 11 });
    expect(errors(events)).toEqual(['oversize']);
    expect(messages(events)).toEqual(['small']);
    expect(d.bufferedBytes).toBe(0);
    expect(d.droppedBytes).toBe(5000 + 2 + 4);
  });

  it('never buffers more than the maximum while skipping an oversize frame', () => {
    const d = new MllpDecoder({ maxMessageBytes: 100 });
    d.push(bytes([SB]));
    let peak = 0;
    for (let i = 0; i < 1000; i++) {
      d.push(Buffer.alloc(1000, 0x41));
      peak = Math.max(peak, d.bufferedBytes);
    }
    expect(peak).toBeLessThanOrEqual(100);
    expect(messages(d.push(bytes([EB, CR], [SB], 'next', [EB, CR])))).toEqual(['next']);
  });

  it('treats a start byte inside a frame as a protocol error and resyncs on it', () => {
    const d = new MllpDecoder();
    const events = d.push(bytes([SB], 'partial', [SB], 'complete', [EB, CR]));
    expect(events).toEqual([
      { type: 'error', reason: 'start-in-frame', droppedBytes: 7 },
      { type: 'message', payload: Buffer.from('complete') },
    ]);
  });

  it('treats a start byte inside a frame spanning chunks the same way', () => {
    const d = new MllpDecoder();
    const events = feed(d, [bytes([SB], 'par'), bytes('tial'), bytes([SB], 'ok', [EB, CR])]);
    expect(events).toEqual([
      { type: 'error', reason: 'start-in-frame', droppedBytes: 7 },
      { type: 'message', payload: Buffer.from('ok') },
    ]);
  });

  it('drops a frame whose end block is not followed by a carriage return', () => {
    const d = new MllpDecoder();
    const events = d.push(bytes([SB], 'bad', [EB], 'x', [SB], 'good', [EB, CR]));
    expect(errors(events)).toEqual(['missing-end-cr']);
    expect(messages(events)).toEqual(['good']);
    const back = d.push(bytes([SB], 'bad', [EB, SB], 'next', [EB, CR]));
    expect(errors(back)).toEqual(['missing-end-cr']);
    expect(messages(back)).toEqual(['next']);
  });

  it('emits an empty payload for an empty frame', () => {
    const d = new MllpDecoder();
    expect(d.push(bytes([SB, EB, CR]))).toEqual([{ type: 'message', payload: Buffer.alloc(0) }]);
  });

  it('reports a truncated frame at end of stream', () => {
    const d = new MllpDecoder();
    d.push(bytes([SB], 'MSH|never finished'));
    expect(d.end()).toEqual([{ type: 'error', reason: 'truncated', droppedBytes: 18 }]);
    expect(d.inFrame).toBe(false);
    expect(d.end()).toEqual([]);
  });

  it('keeps CR and LF bytes inside the payload (segment separators)', () => {
    const d = new MllpDecoder();
    expect(messages(d.push(frame('MSH|a\rPID|b\r\nPV1|c\r')))).toEqual(['MSH|a\rPID|b\r\nPV1|c\r']);
  });

  it('rejects a non-positive maximum', () => {
    expect(() => new MllpDecoder({ maxMessageBytes: 0 })).toThrow(RangeError);
  });
});

/** mulberry32: a small seeded PRNG so that failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random bytes that are never SB or EB (CR, LF and high bytes included). */
function randomPayload(rand: () => number, index: number): Buffer {
  const length = Math.floor(rand() * 300);
  const body = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    let b = Math.floor(rand() * 256);
    if (b === SB || b === EB) b = CR;
    body[i] = b;
  }
  // A unique prefix makes a repeated or reordered message visible.
  return Buffer.concat([Buffer.from(`#${index}|`), body]);
}

/** Junk between frames: anything but SB. */
function randomJunk(rand: () => number): Buffer {
  const length = rand() < 0.7 ? 0 : Math.floor(rand() * 20);
  const junk = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    const b = Math.floor(rand() * 256);
    junk[i] = b === SB ? 0x20 : b;
  }
  return junk;
}

function splitRandomly(rand: () => number, stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < stream.length) {
    const r = rand();
    const size = r < 0.1 ? 0 : r < 0.4 ? 1 + Math.floor(rand() * 3) : Math.floor(rand() * 600);
    chunks.push(Buffer.from(stream.subarray(at, at + size)));
    at += size;
  }
  return chunks;
}

describe('MllpDecoder property: random messages, random split points', () => {
  for (const seed of [1, 2, 3, 42, 2575, 20240315]) {
    it(`decodes exactly the messages sent, in order, once each (seed ${seed})`, () => {
      const rand = prng(seed);
      for (let round = 0; round < 150; round++) {
        const count = Math.floor(rand() * 12);
        const sent = Array.from({ length: count }, (_, i) => randomPayload(rand, i));
        const withJunk = round % 2 === 1;
        const stream = Buffer.concat(sent.flatMap((m) => (withJunk ? [randomJunk(rand), encode(m)] : [encode(m)])));
        const decoder = new MllpDecoder({ maxMessageBytes: 400 });
        const events = feed(decoder, splitRandomly(rand, stream));
        expect(errors(events)).toEqual([]);
        const received = events.flatMap((e) => (e.type === 'message' ? [e.payload] : []));
        expect(received.length).toBe(sent.length);
        received.forEach((payload, i) => expect(payload.equals(sent[i]!)).toBe(true));
        expect(decoder.inFrame).toBe(false);
        expect(decoder.bufferedBytes).toBe(0);
      }
    });
  }
});
