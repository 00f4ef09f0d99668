/** Raw MLLP over real sockets for tests: frame bytes, collect whole ACK frames, decode ACKs. */
import fs from 'node:fs';
import net from 'node:net';
import { decodeHl7Bytes } from '../../src/hl7-adapters/parse/charset.ts';
import { parseMessage } from '../../src/hl7-adapters/parse/message.ts';
import type { Hl7Message } from '../../src/hl7-adapters/parse/message.ts';

export const fixture = (name: string): Buffer => fs.readFileSync(new URL(`../fixtures/hl7/${name}`, import.meta.url));
export const frame = (payload: Buffer | string): Buffer => Buffer.concat([Buffer.from([0x0b]), Buffer.from(payload), Buffer.from([0x1c, 0x0d])]);

/** A raw MLLP client: collects whole ACK frames as they arrive. */
export class Client {
  readonly socket: net.Socket;
  readonly frames: Buffer[] = [];
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (;;) {
        const start = this.#buffer.indexOf(0x0b);
        const end = this.#buffer.indexOf(Buffer.from([0x1c, 0x0d]));
        if (start < 0 || end < 0) break;
        this.frames.push(this.#buffer.subarray(start + 1, end));
        this.#buffer = this.#buffer.subarray(end + 2);
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  static async connect(port: number): Promise<Client> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new Client(socket);
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  async write(data: Buffer): Promise<void> {
    await new Promise<void>((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Waits until `count` frames have arrived in total (or the socket closed). */
  async waitFor(count: number, timeoutMs = 10_000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count && !this.closed) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} frames, got ${this.frames.length}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.frames.slice(0, count);
  }

  close(): void {
    this.socket.destroy();
  }
}

export function ack(bytes: Buffer): { message: Hl7Message; charset: string } {
  const decoded = decodeHl7Bytes(bytes, { defaultCharset: 'UTF-8' });
  return { message: parseMessage(decoded.text), charset: decoded.charset };
}

export async function sendTo(port: number, payload: Buffer | string): Promise<{ message: Hl7Message; charset: string; bytes: Buffer }> {
  const client = await Client.connect(port);
  try {
    await client.write(frame(payload));
    const [bytes] = await client.waitFor(1);
    if (!bytes) throw new Error('no ACK');
    return { ...ack(bytes), bytes };
  } finally {
    client.close();
  }
}

