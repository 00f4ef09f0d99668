/**
 * One MLLP sender connection for the benchmark: send a message, wait for its ACK frame
 * (MLLP Release 1 interaction model), check MSA-1. Uses CareBridge's own codec only for framing.
 */
import net from 'node:net';
import { encode, MllpDecoder } from '../../src/hl7-adapters/mllp/codec.ts';

export class MllpConnection {
  readonly #socket: net.Socket;
  readonly #decoder = new MllpDecoder({ maxMessageBytes: 1 << 20 });
  #waiting: { resolve: (ack: Buffer) => void; reject: (err: Error) => void } | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const event of this.#decoder.push(chunk)) {
        const waiter = this.#waiting;
        this.#waiting = undefined;
        if (event.type === 'message') waiter?.resolve(event.payload);
        else waiter?.reject(new Error(`framing error: ${event.reason}`));
      }
    });
    const fail = (err: Error) => {
      const waiter = this.#waiting;
      this.#waiting = undefined;
      waiter?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static async open(port: number, host = '127.0.0.1'): Promise<MllpConnection> {
    const socket = net.connect(port, host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new MllpConnection(socket);
  }

  /** Sends one message and resolves with its ACK; rejects unless MSA-1 is AA or CA. */
  async send(message: Buffer): Promise<Buffer> {
    if (this.#waiting) throw new Error('one message at a time per connection');
    const ack = new Promise<Buffer>((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
    this.#socket.write(encode(message));
    const bytes = await ack;
    const msa = /\rMSA\|([A-Z]{2})\|/.exec(bytes.toString('latin1'));
    if (msa?.[1] !== 'AA' && msa?.[1] !== 'CA') throw new Error(`not accepted: ${bytes.toString('utf8').replaceAll('\r', ' | ').slice(0, 300)}`);
    return bytes;
  }

  close(): void {
    this.#socket.destroy();
  }
}
