/** Starts a real CareBridge server (HTTP on a free port) on a fresh test database. */
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/server.ts';
import type { RunningServer } from '../../src/server.ts';
import { createTestDatabase } from './database.ts';

export interface TestServer extends RunningServer {
  databaseUrl: string;
  /** fetch relative to the FHIR base, JSON in and out. */
  fhir(path: string, init?: FhirInit): Promise<FhirReply>;
}

export interface FhirInit {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FhirReply {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined when there was none. */
  body: any;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const databaseUrl = await createTestDatabase();
  // The subscription engine (and the follow-up engine on it) writes resources of its own after
  // other writes — e.g. a risk assessment after a Synthea inpatient discharge — so it is off unless
  // a test file turns it on (SUBSCRIPTION_ENGINE: 'on'): exact-count tests stay deterministic.
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DB_POOL_SIZE: '10', MLLP_PORT: '0', SUBSCRIPTION_ENGINE: 'off', ...env });
  const server = await startServer(config);
  const fhir = async (path: string, init: FhirInit = {}): Promise<FhirReply> => {
    const headers: Record<string, string> = { accept: 'application/fhir+json', ...init.headers };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/fhir+json';
    }
    const res = await fetch(`${server.fhirBaseUrl}/${path.replace(/^\//, '')}`, { method: init.method ?? 'GET', headers, body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  return { ...server, databaseUrl, fhir };
}

/**
 * Starts a server on a fresh database before the file's tests and stops it after them. The
 * returned object is filled in by beforeAll, so use it inside tests and hooks only.
 */
export function useTestServer(env: Record<string, string> = {}): TestServer {
  const server = {} as TestServer;
  beforeAll(async () => {
    Object.assign(server, await startTestServer(env));
  });
  afterAll(async () => {
    await server.stop?.();
  });
  return server;
}
