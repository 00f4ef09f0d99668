/**
 * The HL7 v2 message log (table hl7_message, migration 0004): every received message's raw bytes
 * and metadata are committed here before its acknowledgement is sent (HL7 v2.5.1 §2.9.2: in
 * enhanced mode the accept ACK means "safely stored"; in original mode the ACK follows
 * processing, which starts from this row). Duplicates are found by the unique key (sending
 * application, sending facility, MSH-10) of non-rejected rows and answered with the stored ACK.
 *
 * Functions take any Queryable (the pool, or a client inside a transaction).
 */
import type { CommitWith, Queryable, SendQuery } from '../db/pool.ts';

export type Hl7MessageStatus = 'received' | 'processed' | 'failed' | 'rejected';

export interface ReceivedMessage {
  senderApplication: string;
  senderFacility: string;
  /** MSH-10, or null when it could not be read. */
  controlId: string | null;
  messageType: string | null;
  triggerEvent: string | null;
  version: string | null;
  /** The charset the bytes were decoded with (iconv-lite name). */
  charset: string | null;
  raw: Uint8Array;
  /** Peer address of the connection, e.g. `127.0.0.1:51234`. */
  connection: string | null;
  status: Hl7MessageStatus;
  /** The acknowledgement to send, stored in the same commit (null when none is sent yet). */
  ack: Uint8Array | null;
  error: string | null;
  /** Ordering key: the patient the message is about (map/patient-key.ts); null without PID. */
  patientKey?: string | null;
  /** PID-3 identifier values, for finding a patient's messages. */
  patientIdentifiers?: string[];
}

export type InsertResult =
  | { duplicate: false; id: string }
  | { duplicate: true; id: string; status: Hl7MessageStatus; ack: Buffer | null };

/**
 * Inserts a received message in one statement (so in one commit when run on the pool). When the
 * same sender already sent this control id (and it was not rejected), nothing is written and the
 * stored row's id, status and ACK are returned.
 */
/** What every inserted row says about the message itself: columns $1–$11 of the inserts below. */
const MESSAGE_COLUMNS = 'sender_application, sender_facility, control_id, message_type, trigger_event, version, charset, raw, connection, patient_key, patient_identifiers';

function messageValues(m: ReceivedMessage): unknown[] {
  return [m.senderApplication, m.senderFacility, m.controlId, m.messageType, m.triggerEvent, m.version, m.charset, Buffer.from(m.raw), m.connection, m.patientKey ?? null, m.patientIdentifiers ?? []];
}

export async function insertReceived(db: Queryable, m: ReceivedMessage): Promise<InsertResult> {
  const params = [...messageValues(m), m.status, m.ack ? Buffer.from(m.ack) : null, m.error];
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await db.query<{ id: string }>(
      `INSERT INTO hl7_message (${MESSAGE_COLUMNS}, status, ack, error, processed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, CASE WHEN $12 IN ('processed', 'rejected') THEN now() END)
       ON CONFLICT (sender_application, sender_facility, control_id) WHERE status <> 'rejected' DO NOTHING
       RETURNING id`,
      params,
    );
    if (inserted.rows[0]) return { duplicate: false, id: inserted.rows[0].id };
    const existing = await db.query<{ id: string; status: Hl7MessageStatus; ack: Buffer | null }>(
      `SELECT id, status, ack FROM hl7_message
        WHERE sender_application = $1 AND sender_facility = $2 AND control_id = $3 AND status <> 'rejected'`,
      [m.senderApplication, m.senderFacility, m.controlId],
    );
    const row = existing.rows[0];
    if (row) return { duplicate: true, id: row.id, status: row.status, ack: row.ack };
    // The conflicting row changed to 'rejected' in between: try again.
  }
  throw new Error('hl7_message insert kept conflicting with a row that disappeared');
}

/** How an original-mode message's transaction starts (cb_hl7_begin, migration 0015). */
export type OriginalModeStart =
  /** New: the id it will be stored under, and whether its patient has earlier messages still pending. */
  | { duplicate: false; id: string; earlierPending: boolean }
  /** The sender already sent this control id: the stored row. */
  | { duplicate: true; id: string; status: Hl7MessageStatus; ack: Buffer | null };

/**
 * In one statement, inside the message's transaction: takes the advisory lock `lockKey` (the
 * patient's; none when null), then — in a snapshot taken after the lock — finds a duplicate or
 * else tells whether the patient has earlier pending messages and hands out the new row's id.
 * Nothing is written: the row is inserted with its outcome by insertWithOutcome. `send` runs the
 * (unnamed) statement: the client's query, or Transaction.withNext to send it with the next one.
 */
export async function beginOriginalMode(send: SendQuery, m: ReceivedMessage, lockKey: string | null): Promise<OriginalModeStart> {
  const { rows } = await send<{ new_id: string | null; duplicate_id: string | null; duplicate_status: Hl7MessageStatus | null; duplicate_ack: Buffer | null; earlier_pending: boolean | null }>({
    text: 'SELECT new_id::text, duplicate_id::text, duplicate_status, duplicate_ack, earlier_pending FROM cb_hl7_begin($1, $2, $3, $4, $5)',
    values: [lockKey, m.senderApplication, m.senderFacility, m.controlId, m.patientKey ?? null],
  });
  const row = rows[0];
  if (row?.duplicate_id) return { duplicate: true, id: row.duplicate_id, status: row.duplicate_status as Hl7MessageStatus, ack: row.duplicate_ack };
  if (!row?.new_id) throw new Error('cb_hl7_begin returned no id');
  return { duplicate: false, id: row.new_id, earlierPending: row.earlier_pending === true };
}

/** A message's outcome, as recorded on its row. */
export interface MessageOutcome {
  status: 'processed' | 'failed';
  ack: Uint8Array | null;
  /** Enhanced mode: the application ACK. */
  appAck: Uint8Array | null;
  error: string | null;
  /** `Type/id/_history/n` of each version written. */
  resources: string[];
  warnings: unknown[];
  unmapped: unknown[];
}

/**
 * Inserts a message under the id beginOriginalMode handed out, already with its outcome (one
 * write of the row and its indexes), and commits: the transaction's last statement, sent with
 * its COMMIT (db/pool.ts withTransaction). A plain INSERT: should a duplicate have been committed
 * since (another connection, the same control id), the unique index fails it and the whole
 * transaction — with the FHIR writes — is rolled back and retried, and finds the duplicate.
 */
export async function insertWithOutcome(commitWith: CommitWith, id: string, m: ReceivedMessage, outcome: MessageOutcome): Promise<void> {
  await commitWith({
    name: 'cb_hl7_insert_with_outcome',
    text: `INSERT INTO hl7_message (${MESSAGE_COLUMNS}, id, status, ack, app_ack, error, resources, warnings, unmapped_codes, attempts, processed_at)
           OVERRIDING SYSTEM VALUE
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, 1, now())`,
    values: [
      ...messageValues(m),
      id,
      outcome.status,
      outcome.ack ? Buffer.from(outcome.ack) : null,
      outcome.appAck ? Buffer.from(outcome.appAck) : null,
      outcome.error,
      outcome.resources,
      JSON.stringify(outcome.warnings),
      JSON.stringify(outcome.unmapped),
    ],
  });
}

/** Records the outcome of processing: status, and the ACK and error when given. */
export async function setStatus(
  db: Queryable,
  id: string,
  update: { status: Hl7MessageStatus; ack?: Uint8Array | null; error?: string | null },
): Promise<void> {
  await db.query(
    `UPDATE hl7_message
        SET status = $2,
            ack = CASE WHEN $3::boolean THEN $4::bytea ELSE ack END,
            error = CASE WHEN $5::boolean THEN $6 ELSE error END,
            processed_at = CASE WHEN $2 IN ('processed', 'failed', 'rejected') THEN now() ELSE processed_at END
      WHERE id = $1`,
    [
      id,
      update.status,
      update.ack !== undefined,
      update.ack ? Buffer.from(update.ack) : null,
      update.error !== undefined,
      update.error ?? null,
    ],
  );
}

/** A logged message as read back: what was inserted, plus its id and arrival time. */
export type Hl7MessageRow = Omit<ReceivedMessage, 'raw' | 'ack' | 'patientKey' | 'patientIdentifiers'> & {
  id: string;
  raw: Buffer;
  ack: Buffer | null;
  receivedAt: string;
};

/** Reads one logged message by id. */
export async function getMessage(db: Queryable, id: string): Promise<Hl7MessageRow | undefined> {
  const result = await db.query<Hl7MessageRow>(
    `SELECT id, sender_application AS "senderApplication", sender_facility AS "senderFacility", control_id AS "controlId",
            message_type AS "messageType", trigger_event AS "triggerEvent", version, charset, raw,
            received_at AS "receivedAt", connection, status, ack, error
       FROM hl7_message WHERE id = $1`,
    [id],
  );
  return result.rows[0];
}
