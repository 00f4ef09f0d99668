/**
 * Configuration: read once from the environment, validated, and passed down explicitly.
 * Every variable is documented in docs/config.md.
 */
import path from 'node:path';

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
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {}

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
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    baseUrl,
    dataDir: path.resolve(env.DATA_DIR?.trim() || './data'),
    databaseUrl,
    logLevel,
    dbPoolSize: integer(env, 'DB_POOL_SIZE', 20, 1, 1000),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    searchParameterPollMs: integer(env, 'SEARCH_PARAMETER_POLL_MS', 5_000, 100, 3_600_000),
  };
}
