/**
 * Configuration: read once from the environment, validated, and passed down explicitly.
 * Every variable is documented in docs/config.md.
 */
import path from 'node:path';
import { isSupportedCharset } from './hl7-adapters/parse/charset.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** HTTP port (PORT, default 8080). 0 picks a free port. */
  port: number;
  /** Address the HTTP server binds (HOST, default 0.0.0.0). */
  host: string;
  /** Public base URL of the FHIR endpoint, used in Location headers and Bundle links. */
  baseUrl: string | undefined;
  /** Directory for the embedded PostgreSQL data (DATA_DIR, default ./data). */
  dataDir: string;
  /** External PostgreSQL; when unset an embedded server is started under dataDir. */
  databaseUrl: string | undefined;
  logLevel: LogLevel;
  /** Maximum connections in the PostgreSQL pool (DB_POOL_SIZE, default 20). */
  dbPoolSize: number;
  /** Largest accepted request body in bytes (MAX_BODY_BYTES, default 64 MiB). */
  maxBodyBytes: number;
  /** How long SIGTERM waits for in-flight requests before closing (SHUTDOWN_GRACE_MS). */
  shutdownGraceMs: number;
  /** How often to look for SearchParameters changed by other nodes (SEARCH_PARAMETER_POLL_MS). */
  searchParameterPollMs: number;
  /** HL7 v2 MLLP listener port (MLLP_PORT, default 2575). 0 picks a free port. */
  mllpPort: number;
  /** Address the MLLP listener binds (MLLP_HOST, default HOST). */
  mllpHost: string;
  /** Largest accepted MLLP message in bytes (MLLP_MAX_MESSAGE_BYTES, default 1 MiB). */
  mllpMaxMessageBytes: number;
  /** An MLLP connection without traffic for this long is closed (MLLP_IDLE_TIMEOUT_MS, default 10 min). */
  mllpIdleTimeoutMs: number;
  /** Charset for HL7 messages whose MSH-18 is empty or wrong (HL7_DEFAULT_CHARSET, default UTF-8). */
  hl7DefaultCharset: string;
  /** How often stored-but-unapplied HL7 messages are looked for (crash recovery, reprocessing). */
  hl7RecoveryIntervalMs: number;
  /** Subscription engine: how long failed deliveries are retried before the subscription goes to error (seconds). */
  subscriptionRetryHorizonSeconds: number;
  /** Subscription engine: idle poll interval of the dispatcher and delivery worker. */
  subscriptionPollMs: number;
  /** Subscription engine: timeout of one delivery attempt. */
  subscriptionDeliveryTimeoutMs: number;
  /** Subscription engine: deliveries in flight at once (each subscription has at most one). */
  subscriptionMaxInFlight: number;
  /** Whether this process runs the subscription engine (dispatcher and delivery). */
  subscriptionEngine: boolean;
  /** URL prefixes subscription endpoints must start with; empty allows any http(s) endpoint. */
  subscriptionEndpointAllow: string[];
  /** The hospital's IANA time zone (calendar days for length of stay and due dates). */
  timeZone: string;
  /** Follow-up sweep (missed reports, overdue tasks): how often it runs, and after how many silent days a report is missed. */
  followUpSweepSeconds: number;
  missedReportDays: number;
  /** Discharges that ended more than this many days ago create no follow-up plan (FOLLOWUP_BACKFILL_DAYS, default 30). */
  followUpBackfillDays: number;
  /** CAREBRIDGE_TEST_CLOCK=1: the follow-up engine's clock can be moved with POST /admin/clock (tests, demos; never production). */
  testClock: boolean;
  /** PEM files for MLLP over TLS (MLLP_TLS_CERT_FILE + MLLP_TLS_KEY_FILE); with MLLP_TLS_CA_FILE, mutual TLS. */
  mllpTls: { certFile: string; keyFile: string; caFile: string | undefined } | undefined;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {}

function onOff(env: Record<string, string | undefined>, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on' || raw === 'true' || raw === '1') return true;
  if (raw === 'off' || raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be on or off, got "${env[name]}"`);
}

function endpointAllowList(raw: string | undefined): string[] {
  const prefixes = (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of prefixes) {
    if (!/^https?:\/\/[^/\s]+/.test(p)) throw new ConfigError(`SUBSCRIPTION_ENDPOINT_ALLOW: "${p}" is not an http(s) URL prefix such as https://partner.example.org/`);
  }
  return prefixes;
}

function timeZone(raw: string | undefined): string {
  const zone = raw?.trim() || 'Asia/Shanghai';
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new ConfigError(`TIME_ZONE must be an IANA time zone such as Asia/Shanghai, got "${zone}"`);
  }
  return zone;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const baseUrl = env.BASE_URL?.trim().replace(/\/+$/, '') || undefined;
  if (baseUrl && !/^https?:\/\//.test(baseUrl)) {
    throw new ConfigError('BASE_URL must be an http:// or https:// URL');
  }
  const hl7DefaultCharset = env.HL7_DEFAULT_CHARSET?.trim() || 'UTF-8';
  if (!isSupportedCharset(hl7DefaultCharset)) {
    throw new ConfigError(`HL7_DEFAULT_CHARSET must be a supported character set (e.g. UTF-8, GBK, GB18030), got "${hl7DefaultCharset}"`);
  }
  const host = env.HOST?.trim() || '0.0.0.0';
  const certFile = env.MLLP_TLS_CERT_FILE?.trim() || undefined;
  const keyFile = env.MLLP_TLS_KEY_FILE?.trim() || undefined;
  const caFile = env.MLLP_TLS_CA_FILE?.trim() || undefined;
  if ((certFile === undefined) !== (keyFile === undefined) || (caFile && !certFile)) {
    throw new ConfigError('MLLP_TLS_CERT_FILE and MLLP_TLS_KEY_FILE must be set together (MLLP_TLS_CA_FILE needs both)');
  }
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host,
    baseUrl,
    dataDir: path.resolve(env.DATA_DIR?.trim() || './data'),
    databaseUrl,
    logLevel,
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 20, 1, 1000),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    searchParameterPollMs: integer(env, 'SEARCH_PARAMETER_POLL_MS', 5_000, 100, 3_600_000),
    mllpPort: integer(env, 'MLLP_PORT', 2575, 0, 65535),
    mllpHost: env.MLLP_HOST?.trim() || host,
    mllpMaxMessageBytes: integer(env, 'MLLP_MAX_MESSAGE_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    mllpIdleTimeoutMs: integer(env, 'MLLP_IDLE_TIMEOUT_MS', 600_000, 100, 86_400_000),
    hl7DefaultCharset,
    hl7RecoveryIntervalMs: integer(env, 'HL7_RECOVERY_INTERVAL_MS', 5_000, 100, 3_600_000),
    subscriptionRetryHorizonSeconds: integer(env, 'SUBSCRIPTION_RETRY_HORIZON', 86_400, 1, 30 * 86_400),
    subscriptionPollMs: integer(env, 'SUBSCRIPTION_POLL_MS', 200, 10, 60_000),
    subscriptionDeliveryTimeoutMs: integer(env, 'SUBSCRIPTION_DELIVERY_TIMEOUT_MS', 10_000, 100, 300_000),
    subscriptionMaxInFlight: integer(env, 'SUBSCRIPTION_MAX_IN_FLIGHT', 16, 1, 1_000),
    subscriptionEngine: onOff(env, 'SUBSCRIPTION_ENGINE', true),
    subscriptionEndpointAllow: endpointAllowList(env.SUBSCRIPTION_ENDPOINT_ALLOW),
    timeZone: timeZone(env.TIME_ZONE),
    followUpSweepSeconds: integer(env, 'FOLLOW_UP_SWEEP_SECONDS', 3_600, 10, 86_400),
    missedReportDays: integer(env, 'MISSED_REPORT_DAYS', 3, 1, 90),
    followUpBackfillDays: integer(env, 'FOLLOWUP_BACKFILL_DAYS', 30, 0, 36_500),
    testClock: onOff(env, 'CAREBRIDGE_TEST_CLOCK', false),
    mllpTls: certFile && keyFile ? { certFile: path.resolve(certFile), keyFile: path.resolve(keyFile), caFile: caFile && path.resolve(caFile) } : undefined,
  };
}
