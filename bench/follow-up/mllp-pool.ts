/**
 * A sender's MLLP connections (bench/hl7/mllp-connection.ts: one message per connection until its
 * ACK), used round-robin by an open loop whose `maxInFlight` is the number of connections: each
 * message goes out on the next idle connection. An ACK that does not come within the timeout is
 * an error; that connection is closed and a new one opened in its place.
 */
import { MllpConnection } from '../hl7/mllp-connection.ts';

export class MllpPool {
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #connections: Array<MllpConnection | undefined>;
  readonly #busy: boolean[];
  #next = 0;
  #closed = false;

  private constructor(port: number, connections: MllpConnection[], timeoutMs: number) {
    this.#port = port;
    this.#timeoutMs = timeoutMs;
    this.#connections = connections;
    this.#busy = connections.map(() => false);
  }

  static async open(port: number, count: number, timeoutMs: number): Promise<MllpPool> {
    return new MllpPool(port, await Promise.all(Array.from({ length: count }, () => MllpConnection.open(port))), timeoutMs);
  }

  get size(): number {
    return this.#connections.length;
  }

  /**
   * Sends on the next idle connection and resolves when the message is accepted (AA/CA). `onWrite`
   * gets performance.now() just before the frame is written to the socket.
   */
  async send(message: Buffer, onWrite?: (t: number) => void): Promise<void> {
    const n = this.#connections.length;
    let slot = -1;
    for (let k = 0; k < n; k++) {
      const c = (this.#next + k) % n;
      if (!this.#busy[c] && this.#connections[c]) {
        slot = c;
        break;
      }
    }
    if (slot < 0) throw new Error('no idle MLLP connection (more messages in flight than connections)');
    this.#next = (slot + 1) % n;
    this.#busy[slot] = true;
    const connection = this.#connections[slot] as MllpConnection;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      onWrite?.(performance.now());
      const ack = connection.send(message); // writes synchronously, then waits for the ACK
      await Promise.race([
        ack,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            timedOut = true;
            reject(new Error(`no ACK within ${this.#timeoutMs / 1000} s`));
          }, this.#timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (timedOut && !this.#closed) {
        connection.close();
        this.#connections[slot] = undefined;
        this.#connections[slot] = await MllpConnection.open(this.#port).catch(() => undefined);
      }
      this.#busy[slot] = false;
    }
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#connections) c?.close();
  }
}
