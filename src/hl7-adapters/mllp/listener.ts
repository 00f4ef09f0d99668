/**
 * The MLLP listener: a TCP server (HL7 Version 2 Transport Specification: MLLP Release 1, §2
 * block format, §3 "interaction model": every message is answered with one acknowledgement on
 * the same connection, in order). Per connection one MllpDecoder; frames are handled one after
 * another so ACKs leave in arrival order.
 *
 * For each message (HL7 v2.5.1 chapter 2, §2.9 message processing rules):
 * 1. decode the bytes in the sender's charset, split batches (parse/charset.ts, parse/batch.ts);
 * 2. decide the acknowledgement (AR for unparseable, unsupported type §2.9.2 / version; AA in
 *    original mode, CA in enhanced mode per MSH-15 AL/ER/SU/NE, Table 0155);
 * 3. commit raw bytes and metadata to hl7_message before any ACK is written to the socket — in
 *    original mode in the same transaction that applies the message (Hl7Processor.storeAndProcess;
 *    AA/AE after that commit), in enhanced mode on their own (CA), then applied (application ACK);
 *    rejected messages are stored with their AR/CR; a duplicate (same sender + MSH-10) gets its
 *    stored ACK and changes nothing;
 * 4. write the ACK, encoded in the message's charset.
 * A frame whose MSH cannot be read at all is logged (status rejected) and the connection closed;
 * an oversize frame is dropped by the decoder (its bytes are never held) and the connection closed.
 *
 * With `tls` the same protocol runs over TLS (node:tls); with `tls.ca` it is mutual TLS: clients
 * must present a certificate signed by that CA.
 *
 * In original mode the AA/AE is sent after the one commit that stored and applied the message;
 * in enhanced mode the CA goes out on commit and the application ACK (per MSH-16) after processing,
 * on the same connection. Batches are acknowledged message by message (one ACK frame each).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.ts';
import { buildAck } from '../ack.ts';
import type { AckCode, AckError } from '../ack.ts';
import { patientIdentifiersOf, patientKeyOf } from '../map/patient-key.ts';
import { MAPPED_MESSAGE_TYPES } from '../map/map-message.ts';
import { insertReceived } from '../message-log.ts';
import type { Hl7Processor } from '../process/processor.ts';
import type { SenderConfigs } from '../senders/sender-store.ts';
import type { Hl7MessageStatus, ReceivedMessage } from '../message-log.ts';
import { decodeHl7Bytes, encodeHl7Text, hexDecoderFor } from '../parse/charset.ts';
import type { DecodedHl7 } from '../parse/charset.ts';
import { parseBatch } from '../parse/batch.ts';
import type { Hl7BatchEntry } from '../parse/batch.ts';
import { readDelimiters } from '../parse/delimiters.ts';
import { Hl7ParseError } from '../parse/errors.ts';
import { Hl7Segment } from '../parse/segment.ts';
import { encode, MllpDecoder } from './codec.ts';

/** Message types CareBridge accepts (MSH-9.1^MSH-9.2): those it can map. */
export const SUPPORTED_MESSAGE_TYPES: ReadonlySet<string> = MAPPED_MESSAGE_TYPES;

/** Versions CareBridge reads (MSH-12.1). */
const SUPPORTED_VERSION = /^2\.[2-8](\.\d+)*$/;

export interface MllpListenerOptions {
  pool: Pool;
  logger: Logger;
  port: number;
  host: string;
  maxMessageBytes: number;
  idleTimeoutMs: number;
  /** Charset for messages whose MSH-18 is empty or wrong and whose sender has no default of its own. */
  defaultCharset: string;
  /** Applies stored messages; its outcome is the ACK in original mode. */
  processor: Hl7Processor;
  /** Per-sender configuration (default charset, identifier type preference). */
  senders: SenderConfigs;
  /** PEM server certificate and key; with `ca`, client certificates are required (mutual TLS). */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
}

export interface MllpListener {
  /** The bound port (useful when `port` was 0). */
  port: number;
  /** Stops accepting, closes connections and waits for messages being stored. */
  close(): Promise<void>;
}

interface Outcome {
  status: Hl7MessageStatus;
  /** Undefined when the acknowledgement mode says no ACK is sent. */
  code: AckCode | undefined;
  error?: AckError;
}

/** Where a message can no longer be salvaged: no readable MSH. */
function salvageMsh(entry: Hl7BatchEntry, decoded: DecodedHl7): Hl7Segment | undefined {
  if (entry.ok) return entry.message.msh;
  if (entry.error.msh) return entry.error.msh;
  const first = entry.text.split('\r')[0] ?? '';
  if (!first.startsWith('MSH')) return undefined;
  try {
    return new Hl7Segment(first, 1, { delimiters: readDelimiters(first), decodeHex: hexDecoderFor(decoded.charset) });
  } catch {
    return undefined;
  }
}

/** HL7 v2.5.1 §2.9.2 / Table 0155: whether an accept ACK is sent in enhanced mode. */
function enhancedCode(acceptAckType: string, ok: boolean, failure: 'CR' | 'CE'): AckCode | undefined {
  const type = acceptAckType.toUpperCase() || 'AL';
  if (ok) return type === 'AL' || type === 'SU' ? 'CA' : undefined;
  return type === 'AL' || type === 'ER' ? failure : undefined;
}

function decide(entry: Hl7BatchEntry, msh: Hl7Segment): Outcome {
  const enhanced = msh.field(15).value !== '' || msh.field(16).value !== '';
  const reject = (error: AckError): Outcome => ({
    status: 'rejected',
    code: enhanced ? enhancedCode(msh.field(15).value, false, 'CR') : 'AR',
    error,
  });
  if (!entry.ok) {
    const e = entry.error;
    return reject({ code: e.hl7ErrorCode, reason: e.message, segment: e.position.segment, segmentIndex: e.position.segmentIndex, field: e.position.field });
  }
  const m = entry.message;
  const type = `${m.messageType.code}^${m.messageType.triggerEvent}`;
  if (!SUPPORTED_MESSAGE_TYPES.has(type)) {
    return reject({ code: '200', reason: `message type ${type} is not supported`, segment: 'MSH', segmentIndex: 1, field: 9 });
  }
  if (!SUPPORTED_VERSION.test(m.version)) {
    return reject({ code: '203', reason: `version ${m.version} is not supported (2.2 to 2.8)`, segment: 'MSH', segmentIndex: 1, field: 12 });
  }
  return { status: 'received', code: enhanced ? enhancedCode(m.acceptAckType, true, 'CR') : 'AA' };
}

/** HD as the duplicate key: namespace id, else universal id. */
function hd(msh: Hl7Segment, n: number): string {
  const field = msh.field(n);
  return field.component(1) || field.component(2);
}

export async function startMllpListener(options: MllpListenerOptions): Promise<MllpListener> {
  const { pool, logger, processor } = options;
  const sockets = new Set<net.Socket>();
  const pending = new Set<Promise<void>>();

  /**
   * Handles one message: stores it, applies it (original mode) and returns the frames to send in
   * order — nothing before the commit that makes them true.
   */
  const handleEntry = async (entry: Hl7BatchEntry, raw: Uint8Array, decoded: DecodedHl7, connection: string, send: (ack: Buffer) => void): Promise<void> => {
    const msh = salvageMsh(entry, decoded);
    if (!msh) {
      const reason = entry.ok ? 'no MSH' : entry.error.message;
      await insertReceived(pool, {
        senderApplication: '', senderFacility: '', controlId: null, messageType: null, triggerEvent: null, version: null,
        charset: decoded.charset, raw, connection, status: 'rejected', ack: null, error: reason,
      });
      throw new UnreadableMessage(reason);
    }
    const outcome = decide(entry, msh);
    const enhanced = msh.field(15).value !== '' || msh.field(16).value !== '';
    // Original mode: the AA/AE is decided by processing, so nothing is stored as the ACK yet.
    const storedAck = outcome.code && (enhanced || outcome.status === 'rejected') ? encodeHl7Text(buildAck({ msh, code: outcome.code, error: outcome.error }), decoded.charset) : null;
    const sender = await options.senders.get(hd(msh, 3), hd(msh, 4));
    const received: ReceivedMessage = {
      senderApplication: hd(msh, 3),
      senderFacility: hd(msh, 4),
      controlId: msh.field(10).value || null,
      messageType: msh.field(9).component(1) || null,
      triggerEvent: msh.field(9).component(2) || null,
      version: msh.field(12).value || null,
      charset: decoded.charset,
      raw,
      connection,
      status: outcome.status,
      ack: storedAck,
      error: outcome.error?.reason ?? null,
      patientKey: entry.ok ? patientKeyOf(entry.message, sender.patientKeyTypes) : null,
      patientIdentifiers: entry.ok ? patientIdentifiersOf(entry.message) : [],
    };
    const controlId = msh.field(10).value;
    if (outcome.status === 'received' && !enhanced && entry.ok) {
      // Original mode: stored and applied in one commit; the AA/AE follows it.
      const { duplicate, result } = await processor.storeAndProcess(received, entry.message);
      logger.info({ id: result.id, controlId, status: result.status, duplicate, connection }, duplicate ? 'duplicate HL7 message answered with its stored ACK' : 'HL7 message applied');
      if (result.ack) send(result.ack);
      return;
    }
    const result = await insertReceived(pool, received);
    if (result.duplicate) {
      logger.info({ id: result.id, controlId, connection }, 'duplicate HL7 message answered with its stored ACK');
      // Stored but never applied (a crash between the two commits): apply it now, then answer.
      const processed = result.status === 'received' ? await processor.process(result.id) : undefined;
      const ack = processed?.ack ?? result.ack;
      if (ack) send(ack);
      return;
    }
    logger.info({ id: result.id, controlId, status: outcome.status, connection }, 'HL7 message received');
    if (outcome.status !== 'received') {
      if (storedAck) send(storedAck);
      return;
    }
    if (storedAck) send(storedAck); // enhanced mode: the accept ACK (CA) goes out on commit
    const processed = await processor.process(result.id);
    const reply = enhanced ? processed?.applicationAck : processed?.ack;
    if (reply) send(reply);
  };

  const handleFrame = async (payload: Buffer, socket: net.Socket, connection: string): Promise<void> => {
    let decoded = decodeHl7Bytes(payload, { defaultCharset: options.defaultCharset });
    let entries = splitEntries(decoded);
    if (decoded.source === 'default') {
      // MSH-18 empty or wrong: the sender's own default charset, if configured, decides.
      const msh = entries[0] && salvageMsh(entries[0], decoded);
      const sender = msh && (await options.senders.get(hd(msh, 3), hd(msh, 4)));
      if (sender?.defaultCharset) {
        const again = decodeHl7Bytes(payload, { defaultCharset: sender.defaultCharset });
        if (again.charset !== decoded.charset) {
          decoded = again;
          entries = splitEntries(decoded);
        }
      }
    }
    if (decoded.warnings.length) logger.warn({ connection, charset: decoded.charset, declared: decoded.declared, warnings: decoded.warnings.map((w) => w.message) }, 'HL7 character set problem');
    // A lone message is stored byte for byte; messages of a batch are stored re-encoded one by one.
    const single = entries.length === 1;
    const send = (ack: Buffer) => {
      if (!socket.destroyed) socket.write(encode(ack));
    };
    for (const entry of entries) {
      const raw = single ? payload : encodeHl7Text(entry.text, decoded.charset);
      try {
        await handleEntry(entry, raw, decoded, connection, send);
      } catch (err) {
        // In a batch, a message without a readable MSH cannot be acknowledged, but it is logged
        // (rejected) and the batch's other messages still are handled; a lone one closes the connection.
        if (single || !(err instanceof UnreadableMessage)) throw err;
        logger.warn({ connection, reason: err.message }, 'unreadable message in a batch skipped');
      }
    }
  };

  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    const connection = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const decoder = new MllpDecoder({ maxMessageBytes: options.maxMessageBytes });
    let chain: Promise<void> = Promise.resolve();
    logger.debug({ connection }, 'MLLP connection opened');
    socket.setTimeout(options.idleTimeoutMs, () => {
      logger.info({ connection }, 'MLLP connection idle; closing');
      socket.end();
      socket.destroySoon();
    });
    const run = (task: () => Promise<void>): void => {
      const next = chain.then(task).catch((err: unknown) => {
        if (err instanceof UnreadableMessage) logger.warn({ connection, reason: err.message }, 'unreadable HL7 frame; closing the connection');
        else logger.error({ err, connection }, 'MLLP frame handling failed; closing the connection');
        socket.destroy();
      });
      chain = next;
      pending.add(next);
      void next.finally(() => pending.delete(next));
    };
    socket.on('data', (chunk: Buffer) => {
      for (const event of decoder.push(chunk)) {
        if (event.type === 'message') {
          const payload = event.payload;
          run(() => handleFrame(payload, socket, connection));
        } else {
          logger.warn({ connection, reason: event.reason, droppedBytes: event.droppedBytes }, 'MLLP framing error');
          if (event.reason === 'oversize') run(async () => void socket.destroy());
        }
      }
    });
    socket.on('end', () => {
      for (const event of decoder.end()) logger.warn({ connection, reason: event.type === 'error' ? event.reason : '' }, 'MLLP connection closed mid-frame');
      run(async () => void socket.end());
    });
    socket.on('error', (err) => logger.debug({ err, connection }, 'MLLP socket error'));
    socket.on('close', () => {
      sockets.delete(socket);
      logger.debug({ connection }, 'MLLP connection closed');
    });
  };
  const t = options.tls;
  const server: net.Server = t
    ? tls.createServer({ cert: t.cert, key: t.key, ca: t.ca, requestCert: t.ca !== undefined, rejectUnauthorized: t.ca !== undefined }, onConnection)
    : net.createServer(onConnection);
  if (t) server.on('tlsClientError', (err) => logger.warn({ err }, 'MLLP TLS handshake failed'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.pause(); // read nothing more; finish what was read
      while (pending.size) await Promise.allSettled([...pending]);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

class UnreadableMessage extends Error {}

/** The frame's messages (a batch split into its messages; an unparseable frame as one failed entry). */
function splitEntries(decoded: DecodedHl7): Hl7BatchEntry[] {
  let entries: Hl7BatchEntry[];
  try {
    entries = parseBatch(decoded.text, { decodeHex: hexDecoderFor(decoded.charset) }).entries;
  } catch (error) {
    if (!(error instanceof Hl7ParseError)) throw error;
    entries = [{ ok: false, error, text: decoded.text }];
  }
  if (entries.length === 0) entries = [{ ok: false, error: new Hl7ParseError('empty', 'the frame has no segments', { segment: '', segmentIndex: 1 }), text: '' }];
  return entries;
}
