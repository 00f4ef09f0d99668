/**
 * Applies stored messages to the FHIR store (DESIGN.md decision 7). For one message:
 *
 * 1. one database transaction takes an advisory lock on the message's patient key, so messages
 *    about one patient are applied one at a time — across connections and server processes —
 *    and applies every earlier still-pending message of that patient first (arrival order = id);
 * 2. each message is mapped (map/map-message.ts) and its Bundle run as a FHIR transaction; the log
 *    row gets its outcome (processed + AA, or failed + AE with the reason) in the same commit — so
 *    a message is applied exactly once, or not at all, whatever crashes when;
 * 3. the caller sends the stored ACK only after that commit.
 *
 * In original mode the listener uses storeAndProcess: the raw message is inserted, with its
 * outcome, in the same transaction (one commit per message). In enhanced mode the message is
 * committed first (the CA means "stored"), then process() applies it; the recovery worker and
 * reprocessing use process().
 *
 * A message that cannot be applied (MappingError, a FHIR validation error, or an unexpected bug)
 * is marked failed and never blocks the patient's later messages; reprocess() retries it after a
 * fix. To record that inside the transaction, the transaction is run again with each message in
 * a savepoint (#run) — only then: savepoints cost two round trips per message. Database trouble
 * (serialization failure, deadlock, lost connection) rolls everything back and is retried; a
 * stored message stays `received` and the recovery worker picks it up.
 */
import type { Bundle, Coding } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { withTransaction } from '../../db/pool.ts';
import type { Pool, PoolClient, Transaction } from '../../db/pool.ts';
import { FhirError, isRetryable, runTransaction, storeInTransaction } from '../../fhir/index.ts';
import type { FhirStore, TransactionContext } from '../../fhir/index.ts';
import { buildAck } from '../ack.ts';
import type { AckCode, AckError } from '../ack.ts';
import { BundleBuilder } from '../map/bundle-builder.ts';
import { codeSystemResolver } from '../map/code-systems.ts';
import type { MappingContext, MappingWarning } from '../map/context.ts';
import { MappingError } from '../map/context.ts';
import { mapContent } from '../map/map-message.ts';
import { provenanceId } from '../map/provenance.ts';
import { decodeHl7Bytes, encodeHl7Text, hexDecoderFor } from '../parse/charset.ts';
import { parseBatch } from '../parse/batch.ts';
import type { Hl7Message } from '../parse/message.ts';
import { beginOriginalMode, insertWithOutcome } from '../message-log.ts';
import type { ReceivedMessage } from '../message-log.ts';
import type { SenderConfigs } from '../senders/sender-store.ts';
import { storeView } from './store-view.ts';

export type ProcessedStatus = 'processed' | 'failed';

export interface ProcessResult {
  id: string;
  status: 'received' | 'processed' | 'failed' | 'rejected';
  /** The stored acknowledgement: original mode AA/AE once processed; enhanced mode the accept ACK (CA). */
  ack: Buffer | null;
  /** Enhanced mode: the application ACK to send after processing (per MSH-16), or null. */
  applicationAck: Buffer | null;
  error: string | null;
}

export interface ProcessorOptions {
  pool: Pool;
  logger: Logger;
  fhir: TransactionContext;
  senders: SenderConfigs;
  /** Translates senders' local codes (ConceptMap $translate, cached). */
  translator: { translate(coding: Coding): Promise<Coding[]> };
  /** Counts outcomes and unmapped codes (metrics). */
  observe?: (event: { status: ProcessedStatus; messageType: string; unmapped: number; seconds: number }) => void;
}

const RETRY = { retryIf: isRetryable, attempts: 5 };

const ROW_COLUMNS = 'id::text, sender_application, sender_facility, charset, raw, status, ack, app_ack, error, patient_key';

interface Row {
  id: string;
  sender_application: string;
  sender_facility: string;
  charset: string | null;
  raw: Buffer;
  status: ProcessResult['status'];
  ack: Buffer | null;
  app_ack: Buffer | null;
  error: string | null;
  patient_key: string | null;
}

/** Whether an error means the database connection or server is gone (retry later, never mark failed). */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === 'ECONNRESET' || code === 'ECONNREFUSED' || /Connection terminated|Client has encountered a connection error/.test((err as Error).message ?? '');
}

/** HL7 v2.5.1 §2.9.3 / Table 0155: whether an application ACK is sent in enhanced mode. */
function wantsApplicationAck(type: string, ok: boolean): boolean {
  const t = type.toUpperCase() || 'AL';
  return t === 'AL' || (ok ? t === 'SU' : t === 'ER');
}

export class Hl7Processor {
  readonly #options: ProcessorOptions;

  constructor(options: ProcessorOptions) {
    this.#options = options;
  }

  /**
   * Applies message `id` (and any earlier pending message of the same patient) unless already
   * done; returns its outcome and the ACK to send. Throws only when the database is unavailable.
   */
  async process(id: string): Promise<ProcessResult | undefined> {
    return this.#run((client, careful) => this.#processLocked(client, id, careful));
  }

  /**
   * Original mode: stores a message and applies it in ONE transaction, so the AA/AE that follows
   * the commit covers both (the raw bytes are still committed before any ACK leaves) and the
   * message costs one commit. The transaction starts with cb_hl7_begin (message-log.ts
   * beginOriginalMode): the patient's lock, the duplicate check and the new id in one round trip;
   * the row is inserted once, with its outcome, at the end. The id is handed out under the
   * patient's lock, so ids — arrival order — follow the order messages of one patient are
   * applied. A duplicate changes nothing and gets its stored outcome (applied now if a crash left
   * it unapplied). `parsed` is the message as the listener parsed it from `message.raw`.
   *
   * On the fast path the message is mapped before its id is known, and cb_hl7_begin travels with
   * the mapping's store lookups (StoreView.settle: what the mappers read and the conditions of the
   * message's writes), which run after it — under the patient's lock — in the same round trip; the
   * mapping is dropped if the message turns out to be a duplicate or to wait for earlier ones.
   */
  async storeAndProcess(message: ReceivedMessage, parsed: Hl7Message): Promise<{ duplicate: boolean; result: ProcessResult }> {
    let attempts = 0;
    return this.#run(async (client, careful, tx) => {
      attempts++;
      // A message without a patient key has nothing to be ordered with: no lock.
      const lockKey = message.patientKey ? patientLockKey(message.patientKey) : null;
      const starting = beginOriginalMode(careful ? (q) => client.query(q) : tx.withNext, message, lockKey);
      starting.catch(() => undefined); // awaited below; until then a failure belongs to the lookups too
      const source = { message: parsed, senderApplication: message.senderApplication, senderFacility: message.senderFacility };
      // The careful redo keeps them apart: a lookup that fails is then recorded in the message's savepoint.
      let early = careful ? undefined : await this.#startMapping(client, source);
      const start = await starting;
      if (start.duplicate) {
        // A duplicate's stored row may name another patient key: lock and apply by that.
        return { duplicate: true, result: (await this.#processLocked(client, start.id, careful)) as ProcessResult };
      }
      // Ids below this message's: a message stored meanwhile (enhanced mode takes no lock to store) waits its turn.
      if (start.earlierPending && message.patientKey) {
        await this.#applyPending(client, start.id, message.patientKey, careful);
        early = undefined; // mapped from what was stored before the earlier messages were applied
      }
      const charset = message.charset ?? 'utf8';
      // A new log id: no Provenance is named after it yet (its write needs no lock first). On a
      // retry — which a Provenance there after all (a client's PUT) would cause — expect nothing.
      const fresh = !careful && attempts === 1;
      const outcome = await this.#apply(client, { id: start.id, ...source }, careful, early, fresh);
      const { ack, appAck } = acknowledgements(parsed, charset, outcome);
      await insertWithOutcome(tx.commitWith, start.id, message, {
        status: outcome.status,
        ack,
        appAck,
        error: outcome.error?.reason ?? null,
        resources: outcome.resources ?? [],
        warnings: outcome.warnings ?? [],
        unmapped: outcome.unmapped ?? [],
      });
      return { duplicate: false, result: { id: start.id, status: outcome.status, ack, applicationAck: appAck, error: outcome.error?.reason ?? null } };
    });
  }

  /**
   * Runs `fn` in a transaction, first without savepoints: a message that applies (nearly all)
   * costs no SAVEPOINT/RELEASE round trips. When one cannot be applied, that attempt is rolled
   * back whole and run again with each message in a savepoint, so the failure can be recorded
   * while the transaction goes on.
   */
  async #run<T>(fn: (client: PoolClient, careful: boolean, tx: Transaction) => Promise<T>): Promise<T> {
    try {
      return await withTransaction(this.#options.pool, (client, tx) => fn(client, false, tx), RETRY);
    } catch (err) {
      if (!(err instanceof RedoWithSavepoints)) throw err;
      return withTransaction(this.#options.pool, (client, tx) => fn(client, true, tx), RETRY);
    }
  }

  async #lockPatient(client: PoolClient, key: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7))', [patientLockKey(key)]);
  }

  async #processLocked(client: PoolClient, id: string, careful: boolean): Promise<ProcessResult | undefined> {
    const head = await client.query<{ patient_key: string | null; status: string }>('SELECT patient_key, status FROM hl7_message WHERE id = $1', [id]);
    const first = head.rows[0];
    if (!first) return undefined;
    if (first.status === 'received') await this.#lockPatient(client, first.patient_key ?? `message:${id}`);
    const result = first.patient_key ? await this.#applyPending(client, id, first.patient_key, careful) : await this.#applyStored(client, `id = $1 AND status = 'received'`, [id], id, careful);
    return result ?? (await this.#current(client, id));
  }

  /**
   * With the patient's lock held: applies this patient's pending messages up to `id`, oldest
   * first, and returns the outcome of `id` if it was among them.
   */
  async #applyPending(client: PoolClient, id: string, patientKey: string, careful: boolean): Promise<ProcessResult | undefined> {
    return this.#applyStored(client, `patient_key = $1 AND status = 'received' AND id <= $2`, [patientKey, id], id, careful);
  }

  /** Locks the stored rows `where` selects, applies them in id order; the outcome of `id` if among them. */
  async #applyStored(client: PoolClient, where: string, values: unknown[], id: string, careful: boolean): Promise<ProcessResult | undefined> {
    const pending = await client.query<Row>(`SELECT ${ROW_COLUMNS} FROM hl7_message WHERE ${where} ORDER BY id FOR UPDATE`, values);
    let result: ProcessResult | undefined;
    for (const row of pending.rows) {
      const outcome = await this.#applyOne(client, row, careful);
      if (row.id === id) result = outcome;
    }
    return result;
  }

  /** A row's outcome as stored (when it was not pending). */
  async #current(client: PoolClient, id: string): Promise<ProcessResult | undefined> {
    const current = await client.query<Row>(`SELECT ${ROW_COLUMNS} FROM hl7_message WHERE id = $1`, [id]);
    const row = current.rows[0];
    return row && { id: row.id, status: row.status, ack: row.ack, applicationAck: row.app_ack, error: row.error };
  }

  /** Decodes, maps and applies one stored message; records the outcome on its row. */
  async #applyOne(client: PoolClient, row: Row, careful: boolean): Promise<ProcessResult> {
    const decoded = decodeHl7Bytes(row.raw, { defaultCharset: row.charset ?? 'utf8' });
    const entry = parseBatch(decoded.text, { decodeHex: hexDecoderFor(decoded.charset) }).entries[0];
    if (!entry?.ok) {
      // Stored as received only after parsing succeeded; a row that no longer parses is corrupt.
      return this.#record(client, row, undefined, decoded.charset, { status: 'failed', error: { code: '207', reason: 'the stored message no longer parses' } });
    }
    const outcome = await this.#apply(client, { id: row.id, message: entry.message, senderApplication: row.sender_application, senderFacility: row.sender_facility }, careful);
    return this.#record(client, row, entry.message, decoded.charset, outcome);
  }

  /** The mapping context of a message and the store it reads and writes through (inside the transaction). */
  async #mapping(client: PoolClient, source: MessageSource, messageLogId: string): Promise<Mapping> {
    const sender = await this.#options.senders.get(source.senderApplication, source.senderFacility);
    const store = storeInTransaction(client);
    const ctx: MappingContext = {
      message: source.message,
      sender,
      systems: codeSystemResolver(source.senderFacility, sender.codeSystems),
      bundle: new BundleBuilder(),
      store: storeView(store),
      warnings: [],
      unmapped: [],
      translate: (coding) => this.#options.translator.translate(coding),
      messageLogId,
    };
    return { store, ctx, started: performance.now() };
  }

  /**
   * The fast path's mapping, before the message has its id: all but the Provenance, its store
   * lookups sent with the statement queued by Transaction.withNext. A failure that is not the
   * database's sends the message down the careful path, where it is recorded.
   */
  async #startMapping(client: PoolClient, source: MessageSource): Promise<Mapping> {
    try {
      const mapping = await this.#mapping(client, source, '');
      mapping.complete = await mapContent(mapping.ctx);
      return mapping;
    } catch (err) {
      if (isRetryable(err) || isConnectionError(err)) throw err;
      throw new RedoWithSavepoints('(not yet numbered)', { cause: err });
    }
  }

  /**
   * Maps one message and runs its Bundle as a FHIR transaction (`early`: mapped already, all but
   * the Provenance, which needs the id). `careful`: inside a savepoint, a failure becomes the outcome;
   * otherwise a failure throws RedoWithSavepoints (#run). Database trouble is thrown either way,
   * for the whole transaction to be retried. `fresh`: the id was handed out in this transaction,
   * so the message has no Provenance yet.
   */
  async #apply(client: PoolClient, source: MessageSource & { id: string }, careful: boolean, early?: Mapping, fresh = false): Promise<Outcome> {
    const { message } = source;
    const { store, ctx, started } = early ?? (await this.#mapping(client, source, source.id));
    ctx.messageLogId = source.id;
    if (fresh) store.expectAbsent([{ resourceType: 'Provenance', id: provenanceId(source.id) }]);
    if (careful) await client.query('SAVEPOINT hl7_apply');
    let outcome: Outcome;
    try {
      const bundle = (early?.complete ?? (await mapContent(ctx)))();
      const written = await runTransaction(this.#options.fhir, store, bundle);
      if (careful) await client.query('RELEASE SAVEPOINT hl7_apply');
      outcome = { status: 'processed', resources: written.map((w) => `${w.resourceType}/${w.id}/_history/${w.versionId}`) };
    } catch (err) {
      if (isRetryable(err) || isConnectionError(err)) throw err;
      if (!careful) throw new RedoWithSavepoints(source.id, { cause: err });
      await client.query('ROLLBACK TO SAVEPOINT hl7_apply');
      outcome = { status: 'failed', error: describeFailure(err) };
      if (!(err instanceof MappingError) && !(err instanceof FhirError)) this.#options.logger.error({ err, id: source.id }, 'HL7 message processing failed unexpectedly');
    }
    outcome.warnings = ctx.warnings;
    outcome.unmapped = ctx.unmapped;
    this.#options.observe?.({ status: outcome.status, messageType: `${message.messageType.code}^${message.messageType.triggerEvent}`, unmapped: ctx.unmapped.length, seconds: (performance.now() - started) / 1000 });
    return outcome;
  }

  /** Records the outcome of a stored message on its row. */
  async #record(client: PoolClient, row: Row, message: Hl7Message | undefined, charset: string, outcome: Outcome): Promise<ProcessResult> {
    const { ack, appAck } = message ? acknowledgements(message, charset, outcome) : { ack: null, appAck: null };
    await client.query(
      `UPDATE hl7_message
          SET status = $2, ack = COALESCE($3, ack), app_ack = $4, error = $5, resources = $6, warnings = $7, unmapped_codes = $8,
              attempts = attempts + 1, processed_at = now()
        WHERE id = $1`,
      [row.id, outcome.status, ack, appAck, outcome.error?.reason ?? null, outcome.resources ?? [], JSON.stringify(outcome.warnings ?? []), JSON.stringify(outcome.unmapped ?? [])],
    );
    return { id: row.id, status: outcome.status, ack: ack ?? row.ack, applicationAck: appAck, error: outcome.error?.reason ?? null };
  }
}

/** A message could not be applied on the fast path (no savepoint): run the transaction again, carefully. */
class RedoWithSavepoints extends Error {
  constructor(id: string, options: { cause: unknown }) {
    super(`HL7 message ${id} could not be applied; redoing its transaction with savepoints`, options);
  }
}

/** The advisory lock key that serialises one patient's messages (cb_hl7_begin uses it too). */
function patientLockKey(patientKey: string): string {
  return `hl7-patient:${patientKey}`;
}

/**
 * The acknowledgements an outcome calls for: original mode the AA/AE (`ack`); enhanced mode the
 * application ACK when MSH-16 asks for one (`appAck`). The first mapping warning, if any, rides
 * along in an ERR segment of severity W.
 */
function acknowledgements(message: Hl7Message, charset: string, outcome: Outcome): { ack: Buffer | null; appAck: Buffer | null } {
  const ok = outcome.status === 'processed';
  const warning = outcome.warnings?.[0];
  const error: AckError | undefined = outcome.error ?? (warning ? { code: '0', reason: warning.reason, segment: warning.segment, segmentIndex: warning.segmentIndex, field: warning.field, severity: 'W' } : undefined);
  const enhanced = message.acceptAckType !== '' || message.applicationAckType !== '';
  const code: AckCode = ok ? 'AA' : 'AE';
  const text = encodeHl7Text(buildAck({ msh: message.msh, code, error }), charset);
  if (!enhanced) return { ack: text, appAck: null };
  return { ack: null, appAck: wantsApplicationAck(message.applicationAckType, ok) ? text : null };
}

interface MessageSource {
  message: Hl7Message;
  senderApplication: string;
  senderFacility: string;
}

interface Mapping {
  store: FhirStore;
  ctx: MappingContext;
  /** performance.now() when mapping began (the processing time observed includes it). */
  started: number;
  /** Mapped already (mapContent): adds the Provenance and gives the Bundle. */
  complete?: () => Bundle;
}

interface Outcome {
  status: ProcessedStatus;
  error?: AckError;
  resources?: string[];
  warnings?: MappingWarning[];
  unmapped?: Coding[];
}

function describeFailure(err: unknown): AckError {
  if (err instanceof MappingError) {
    return { code: err.hl7ErrorCode, reason: err.message, segment: err.location?.segment, segmentIndex: err.location?.segmentIndex, field: err.location?.field };
  }
  if (err instanceof FhirError) {
    const details = err.outcome.issue?.map((i) => i.diagnostics ?? i.details?.text).filter(Boolean).join('; ');
    return { code: '207', reason: `the FHIR store refused the mapped resources: ${details || err.message}` };
  }
  return { code: '207', reason: `application internal error: ${(err as Error).message ?? String(err)}` };
}
