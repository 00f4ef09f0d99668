/**
 * Finding messages in the log (issue 3: "by control id, patient identifier, type, status and
 * time, and see the FHIR resources each produced"). Query parameters are validated here and
 * turned into one parameterised SQL statement; paging is keyset on id, newest first.
 */
import type { Queryable } from '../../db/pool.ts';
import { errors } from '../../fhir/index.ts';
import type { Hl7MessageStatus, ReceivedMessage } from '../message-log.ts';
import { decodeHl7Bytes } from '../parse/charset.ts';

const STATUSES = new Set<string>(['received', 'processed', 'failed', 'rejected'] satisfies Hl7MessageStatus[]);
const MAX_COUNT = 200;

/** The header fields the log stores for every message, as received. */
type MessageHeader = Pick<ReceivedMessage, 'senderApplication' | 'senderFacility' | 'controlId' | 'messageType' | 'triggerEvent' | 'version'>;

export interface MessageSummary extends MessageHeader {
  id: string;
  status: Hl7MessageStatus;
  receivedAt: string;
  processedAt: string | null;
  attempts: number;
  error: string | null;
  /** `Type/id/_history/n` of every resource the message wrote. */
  resources: string[];
}

export interface MessageDetail extends MessageSummary {
  charset: string | null;
  connection: string | null;
  patientKey: string | null;
  /** The message decoded, segments separated by CR. */
  text: string;
  /** The raw bytes as received, base64. */
  raw: string;
  ack: string | null;
  applicationAck: string | null;
  warnings: unknown[];
  unmappedCodes: unknown[];
}

const SUMMARY_COLUMNS = `id::text, sender_application AS "senderApplication", sender_facility AS "senderFacility", control_id AS "controlId",
  message_type AS "messageType", trigger_event AS "triggerEvent", version, status, to_json(received_at) #>> '{}' AS "receivedAt",
  to_json(processed_at) #>> '{}' AS "processedAt", attempts, error, resources`;

function timestamp(name: string, value: string): string {
  if (Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw errors.hl7InvalidRequest(`${name} must be an ISO 8601 date or date-time, got "${value}"`, [name]);
  return value;
}

export interface MessagePage {
  messages: MessageSummary[];
  /** The `before` value for the next (older) page, when there is one. */
  nextBefore: string | undefined;
}

/** Lists messages matching the query parameters, newest first. */
export async function findMessages(db: Queryable, query: URLSearchParams): Promise<MessagePage> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  const known = new Set(['control-id', 'patient-identifier', 'type', 'status', 'sender-application', 'sender-facility', 'since', 'until', 'before', '_count']);
  for (const name of query.keys()) if (!known.has(name)) throw errors.hl7InvalidRequest(`unknown query parameter "${name}"; use ${[...known].join(', ')}`, [name]);
  const controlId = query.get('control-id');
  if (controlId) add((p) => `control_id = ${p}`, controlId);
  const patient = query.get('patient-identifier');
  if (patient) add((p) => `patient_identifiers @> ARRAY[${p}]::text[]`, patient.includes('|') ? patient.slice(patient.lastIndexOf('|') + 1) : patient);
  const type = query.get('type');
  if (type) {
    const [code, trigger] = type.split('^');
    if (!code || !/^[A-Z0-9]{3}$/.test(code) || (trigger !== undefined && !/^[A-Z0-9]{3}$/.test(trigger))) throw errors.hl7InvalidRequest(`type must look like ADT or ADT^A01, got "${type}"`, ['type']);
    add((p) => `message_type = ${p}`, code);
    if (trigger) add((p) => `trigger_event = ${p}`, trigger);
  }
  const status = query.get('status');
  if (status) {
    const list = status.split(',');
    for (const s of list) if (!STATUSES.has(s)) throw errors.hl7InvalidRequest(`status must be one or more of ${[...STATUSES].join(', ')}, got "${s}"`, ['status']);
    add((p) => `status = ANY(${p}::text[])`, list);
  }
  const app = query.get('sender-application');
  if (app !== null) add((p) => `sender_application = ${p}`, app);
  const facility = query.get('sender-facility');
  if (facility !== null) add((p) => `sender_facility = ${p}`, facility);
  const since = query.get('since');
  if (since) add((p) => `received_at >= ${p}::timestamptz`, timestamp('since', since));
  const until = query.get('until');
  if (until) add((p) => `received_at < ${p}::timestamptz`, timestamp('until', until));
  const before = query.get('before');
  if (before) {
    if (!/^\d{1,18}$/.test(before)) throw errors.hl7InvalidRequest(`before must be a message id, got "${before}"`, ['before']);
    add((p) => `id < ${p}::bigint`, before);
  }
  const countText = query.get('_count') ?? '50';
  if (!/^\d{1,4}$/.test(countText) || Number(countText) < 1) throw errors.hl7InvalidRequest(`_count must be an integer from 1 to ${MAX_COUNT}, got "${countText}"`, ['_count']);
  const count = Math.min(Number(countText), MAX_COUNT);
  params.push(count + 1);
  const result = await db.query<MessageSummary>(
    `SELECT ${SUMMARY_COLUMNS} FROM hl7_message ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY hl7_message.id DESC LIMIT $${params.length}`,
    params,
  );
  const rows = result.rows.slice(0, count);
  return { messages: rows, nextBefore: result.rows.length > count ? rows[rows.length - 1]?.id : undefined };
}

/** One message with its text, ACKs, warnings and the resources it produced. */
export async function messageDetail(db: Queryable, id: string): Promise<MessageDetail> {
  if (!/^\d{1,18}$/.test(id)) throw errors.hl7MessageNotFound(id);
  const result = await db.query<MessageSummary & { charset: string | null; connection: string | null; patientKey: string | null; raw: Buffer; ack: Buffer | null; appAck: Buffer | null; warnings: unknown[]; unmappedCodes: unknown[] }>(
    `SELECT ${SUMMARY_COLUMNS}, charset, connection, patient_key AS "patientKey", raw, ack, app_ack AS "appAck", warnings, unmapped_codes AS "unmappedCodes"
       FROM hl7_message WHERE id = $1`,
    [id],
  );
  const row = result.rows[0];
  if (!row) throw errors.hl7MessageNotFound(id);
  const decode = (bytes: Buffer | null) => (bytes ? decodeHl7Bytes(bytes, { defaultCharset: row.charset ?? 'utf8' }).text : null);
  const { raw, ack, appAck, ...rest } = row;
  return {
    ...rest,
    text: decode(raw) ?? '',
    raw: raw.toString('base64'),
    ack: decode(ack),
    applicationAck: decode(appAck),
  };
}
