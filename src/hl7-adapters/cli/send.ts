/**
 * `carebridge hl7 send [options] FILE...` (issue 3): sends HL7 v2 files to an MLLP listener and
 * prints each acknowledgement (MLLP Release 1 §3 interaction model; HL7 v2.5.1 §2.9 acknowledgement
 * rules, Table 0008).
 *
 * Every file is read and split before the first byte is sent, so an unreadable file is a usage
 * error (exit 2) rather than a run that stopped halfway. Then one frame at a time: send, wait for
 * its ACK(s) (a batch frame gets one per message), print, next. If the server closes the
 * connection before answering, the frame is sent once more on a new connection: a message the
 * server already stored is answered with its stored ACK (duplicate MSH-10), so resending is safe.
 * A message without an ACK after the timeout fails and the connection is replaced, so a late ACK
 * cannot be taken for the next message's. A refused connection ends the run.
 */
import fs from 'node:fs';
import { ACCEPTED_CODES, controlIdOf, readAcks } from './ack-summary.ts';
import type { AckSummary } from './ack-summary.ts';
import { MllpConnectError, MllpConnection } from './mllp-client.ts';
import type { MllpTarget } from './mllp-client.ts';
import { parseSendArgs, SEND_USAGE } from './options.ts';
import type { SendOptions } from './options.ts';
import { ProgressBar } from './progress.ts';
import type { ProgressStream } from './progress.ts';
import { splitHl7File } from './split.ts';
import type { SplitFrame } from './split.ts';

const PREFIX = 'carebridge hl7 send';

export interface SendIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
  env: Record<string, string | undefined>;
}

class UsageError extends Error {}

/** Reads a file the user named; failures are usage errors that name the file. */
function readInput(path: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    // "ENOENT: no such file or directory, open 'x'" → "no such file or directory (ENOENT)"
    const what = code === 'EISDIR' ? 'is a directory' : message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    throw new UsageError(`cannot read ${path}: ${code ? `${what} (${code})` : what}`);
  }
}

function loadTarget(options: SendOptions): MllpTarget {
  const t = options.tls;
  if (!t) return { host: options.host, port: options.port };
  const read = (path: string | undefined) => (path === undefined ? undefined : readInput(path));
  return { host: options.host, port: options.port, tls: { ca: read(t.ca), cert: read(t.cert), key: read(t.key), rejectUnauthorized: !t.insecure } };
}

interface LoadedFile {
  name: string;
  frames: SplitFrame[];
}

function loadFiles(names: string[]): LoadedFile[] {
  return names.map((name) => {
    const frames = splitHl7File(readInput(name));
    if (frames.length === 0) throw new UsageError(`${name} holds no HL7 segments`);
    return { name, frames };
  });
}

interface Exchange {
  acks: AckSummary[];
  /** Why some of the frame's messages got no acknowledgement. */
  failure?: string;
}

/** One connection at a time, reopened when it was lost. */
class Sender {
  readonly #target: MllpTarget;
  readonly #timeoutMs: number;
  #connection: MllpConnection | undefined;

  constructor(target: MllpTarget, timeoutMs: number) {
    this.#target = target;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends a frame and collects its ACKs; throws MllpConnectError when no connection can be made. */
  async exchange(frame: SplitFrame): Promise<Exchange> {
    for (let attempt = 1; ; attempt++) {
      if (!this.#connection || this.#connection.closed) this.#connection = await MllpConnection.open(this.#target, this.#timeoutMs);
      const connection = this.#connection;
      connection.send(frame.payload);
      const acks: AckSummary[] = [];
      let closedReason: string | undefined;
      while (acks.length < frame.messages.length && closedReason === undefined) {
        const received = await connection.receive(this.#timeoutMs);
        if (received.type === 'frame') acks.push(...readAcks(received.payload));
        else if (received.type === 'closed') closedReason = received.reason;
        else {
          this.close();
          return { acks, failure: `no acknowledgement within ${this.#timeoutMs} ms` };
        }
      }
      if (closedReason === undefined) return { acks };
      this.close();
      if (attempt > 1) return { acks, failure: `connection closed before the acknowledgement (${closedReason})` };
    }
  }

  close(): void {
    this.#connection?.close();
    this.#connection = undefined;
  }
}

/** `→ AA`, `→ AR: reason (error 200)`, or why there was no ACK. */
function outcomeText(ack: AckSummary | undefined, controlId: string, failure: string | undefined): string {
  if (!ack) return `no ACK: ${failure ?? 'none received'}`;
  let text = ack.code === '' ? `no valid ACK: ${ack.reason}` : ack.code;
  if (ack.code !== '' && !ACCEPTED_CODES.has(ack.code)) {
    if (ack.reason) text += `: ${ack.reason}`;
    if (ack.errorCode) text += ` (error ${ack.errorCode})`;
  }
  if (ack.code !== '' && ack.controlId !== controlId) text += ` (MSA-2=${ack.controlId})`;
  return text;
}

async function sendAll(options: SendOptions, target: MllpTarget, files: LoadedFile[], io: SendIo): Promise<number> {
  const total = files.reduce((n, file) => n + file.frames.reduce((m, frame) => m + frame.messages.length, 0), 0);
  const progress = new ProgressBar(io.stderr, total);
  const sender = new Sender(target, options.timeoutMs);
  let done = 0;
  let failed = 0;
  try {
    for (const file of files) {
      for (const frame of file.frames) {
        const { acks, failure } = await sender.exchange(frame);
        frame.messages.forEach((message, i) => {
          const ack = acks[i];
          const controlId = controlIdOf(message.msh);
          if (!ack || !ACCEPTED_CODES.has(ack.code)) failed++;
          if (!options.quiet) progress.around(() => io.stdout.write(`${file.name}#${message.index} MSH-10=${controlId} → ${outcomeText(ack, controlId, failure)}\n`));
        });
        done += frame.messages.length;
        progress.advance(frame.messages.length);
      }
    }
  } catch (error) {
    if (!(error instanceof MllpConnectError)) throw error;
    progress.finish();
    io.stderr.write(`${PREFIX}: ${error.message}\n`);
    if (done > 0) io.stderr.write(`${PREFIX}: ${total - done} of ${total} messages not sent\n`);
    return 1;
  } finally {
    sender.close();
  }
  progress.finish();
  if (failed > 0) io.stderr.write(`${PREFIX}: ${failed} of ${total} messages not accepted\n`);
  return failed > 0 ? 1 : 0;
}

/** Runs the command; returns the exit code (0 all accepted, 1 not, 2 usage error). */
export async function hl7Send(args: string[], io: SendIo): Promise<number> {
  const parsed = parseSendArgs(args, io.env);
  if (parsed.kind === 'help') {
    io.stdout.write(`${SEND_USAGE}\n`);
    return 0;
  }
  const usageError = (message: string): number => {
    io.stderr.write(`${PREFIX}: ${message}\nRun "carebridge hl7 send --help" for usage.\n`);
    return 2;
  };
  if (parsed.kind === 'usage-error') return usageError(parsed.message);
  let target: MllpTarget;
  let files: LoadedFile[];
  try {
    target = loadTarget(parsed.options);
    files = loadFiles(parsed.options.files);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(error.message);
  }
  return sendAll(parsed.options, target, files, io);
}
