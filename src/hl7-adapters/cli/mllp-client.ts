/**
 * The sending side of MLLP (HL7 Version 2 Transport Specification: MLLP Release 1, §2 block
 * format, §3 interaction model: send a message, then wait for its acknowledgement on the same
 * connection before sending the next). TCP, or TLS (node:tls) with an optional client certificate.
 */
import net from 'node:net';
import tls from 'node:tls';
import { encode, MllpDecoder } from '../mllp/codec.ts';

export interface MllpTarget {
  host: string;
  port: number;
  /** PEM contents; `rejectUnauthorized: false` skips verifying the server. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
}

/** What waiting for the next frame ended with. */
export type MllpReceive =
  | { type: 'frame'; payload: Buffer }
  | { type: 'closed'; reason: string }
  | { type: 'timeout' };

/** The connection could not be opened; `reason` is short, e.g. `ECONNREFUSED`. */
export class MllpConnectError extends Error {
  readonly reason: string;
  constructor(target: MllpTarget, reason: string) {
    super(`cannot connect to ${target.host}:${target.port}: ${reason}`);
    this.reason = reason;
  }
}

/**
 * One short line: a system error by its code (`ECONNREFUSED`); a certificate error by code and
 * message; an OpenSSL error, whose message is a multi-line dump, by its code alone.
 */
function describe(error: Error & { code?: string; syscall?: string }): string {
  const message = error.message.split('\n')[0]!;
  if (error.code && (error.syscall || /^[0-9A-F]+:error:/.test(message))) return error.code;
  if (error.code && !message.includes(error.code)) return `${error.code}: ${message}`;
  return message;
}

export class MllpConnection {
  readonly #socket: net.Socket;
  readonly #decoder = new MllpDecoder({ maxMessageBytes: 64 * 1024 * 1024 });
  readonly #frames: Buffer[] = [];
  #closedReason: string | undefined;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      // Framing errors are skipped: the frame that matters is the next whole one.
      for (const event of this.#decoder.push(chunk)) if (event.type === 'message') this.#frames.push(event.payload);
      this.#wake?.();
    });
    socket.on('error', (error) => {
      this.#closedReason ??= describe(error);
    });
    socket.on('close', () => {
      this.#closedReason ??= 'the server closed the connection';
      this.#wake?.();
    });
  }

  /** Connects (and completes the TLS handshake) within `timeoutMs`. */
  static open(target: MllpTarget, timeoutMs: number): Promise<MllpConnection> {
    return new Promise((resolve, reject) => {
      const t = target.tls;
      const socket = t
        ? tls.connect({ host: target.host, port: target.port, ca: t.ca, cert: t.cert, key: t.key, rejectUnauthorized: t.rejectUnauthorized })
        : net.connect({ host: target.host, port: target.port });
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT', syscall: 'connect' })), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new MllpConnectError(target, describe(error)));
      };
      socket.once('error', fail);
      socket.once(t ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(new MllpConnection(socket));
      });
    });
  }

  /** True once the connection is gone (closed by either side or failed). */
  get closed(): boolean {
    return this.#closedReason !== undefined || this.#socket.destroyed;
  }

  send(payload: Uint8Array): void {
    this.#socket.write(encode(payload));
  }

  /** The next frame received, or why none came: closed, or nothing within `timeoutMs`. */
  async receive(timeoutMs: number): Promise<MllpReceive> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.#frames.shift();
      if (frame) return { type: 'frame', payload: frame };
      if (this.#closedReason !== undefined) return { type: 'closed', reason: this.#closedReason };
      const left = deadline - Date.now();
      if (left <= 0) return { type: 'timeout' };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  close(): void {
    this.#closedReason ??= 'closed';
    this.#socket.destroy();
  }
}
