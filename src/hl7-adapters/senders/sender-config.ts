/**
 * Per-sender configuration (issue 3: "stored as data, changeable without a restart"): one row per
 * (sending application, sending facility) in table hl7_sender, read for every message. A sender
 * without a row gets the defaults below. Validation happens here, at the boundary, so a bad
 * configuration is refused when it is saved rather than failing messages later.
 */
import { isSupportedCharset } from '../parse/charset.ts';
import { isTimeZone } from '../map/datetime.ts';

export interface SenderConfig {
  /** MSH-3 namespace id ('' matches a sender that leaves it empty). */
  application: string;
  /** MSH-4 namespace id. */
  facility: string;
  /** Charset for messages whose MSH-18 is empty or wrong (an MSH-18 label or iconv-lite name). */
  defaultCharset?: string;
  /** IANA time zone for timestamps without an offset. */
  timeZone: string;
  /**
   * Identifier systems for PID-3 and other CX/XCN values: keys are an assigning authority
   * (CX-4.1 namespace id) or `type:<CX-5>` (identifier type code); values are system URIs.
   */
  identifierSystems: Record<string, string>;
  /** v2 coding-system names (CWE-3) → code system URIs, overriding the built-in names. */
  codeSystems: Record<string, string>;
  /** PID-3 identifier type codes in order of preference for the patient's matching key. */
  patientKeyTypes: string[];
}

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
export const DEFAULT_PATIENT_KEY_TYPES = ['MR', 'PI', 'PT', 'PN', 'AN'];

export function defaultSenderConfig(application: string, facility: string): SenderConfig {
  return { application, facility, timeZone: DEFAULT_TIME_ZONE, identifierSystems: {}, codeSystems: {}, patientKeyTypes: DEFAULT_PATIENT_KEY_TYPES };
}

export class SenderConfigError extends Error {}

const isRecordOfStrings = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' && x.trim() !== '');

/** Validates a configuration document (JSON from the admin API) and fills in defaults. */
export function parseSenderConfig(application: string, facility: string, input: unknown): SenderConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SenderConfigError('the sender configuration must be a JSON object');
  const doc = input as Record<string, unknown>;
  const known = new Set(['defaultCharset', 'timeZone', 'identifierSystems', 'codeSystems', 'patientKeyTypes']);
  const unknown = Object.keys(doc).filter((k) => !known.has(k));
  if (unknown.length) throw new SenderConfigError(`unknown setting(s): ${unknown.join(', ')}`);
  const config = defaultSenderConfig(application, facility);
  if (doc.defaultCharset !== undefined) {
    if (typeof doc.defaultCharset !== 'string' || !isSupportedCharset(doc.defaultCharset)) throw new SenderConfigError(`defaultCharset ${JSON.stringify(doc.defaultCharset)} is not a known character set (e.g. GB18030, GBK, UTF-8)`);
    config.defaultCharset = doc.defaultCharset;
  }
  if (doc.timeZone !== undefined) {
    if (typeof doc.timeZone !== 'string' || !isTimeZone(doc.timeZone)) throw new SenderConfigError(`timeZone ${JSON.stringify(doc.timeZone)} is not an IANA time zone (e.g. Asia/Shanghai)`);
    config.timeZone = doc.timeZone;
  }
  for (const key of ['identifierSystems', 'codeSystems'] as const) {
    const value = doc[key];
    if (value === undefined) continue;
    if (!isRecordOfStrings(value)) throw new SenderConfigError(`${key} must be an object of non-empty strings`);
    for (const [name, uri] of Object.entries(value)) {
      if (!/^(urn:|https?:\/\/)\S+$/.test(uri)) throw new SenderConfigError(`${key}.${name}: ${JSON.stringify(uri)} is not an absolute URI (urn:… or http(s)://…)`);
    }
    config[key] = { ...value };
  }
  if (doc.patientKeyTypes !== undefined) {
    if (!Array.isArray(doc.patientKeyTypes) || doc.patientKeyTypes.length === 0 || !doc.patientKeyTypes.every((t) => typeof t === 'string' && /^[A-Za-z0-9]{1,10}$/.test(t))) {
      throw new SenderConfigError('patientKeyTypes must be a non-empty list of identifier type codes such as ["MR", "PI"]');
    }
    config.patientKeyTypes = [...(doc.patientKeyTypes as string[])];
  }
  return config;
}
