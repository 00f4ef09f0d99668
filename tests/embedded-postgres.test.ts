// The embedded PostgreSQL is reached through a Unix-domain socket in its cluster directory (a
// round trip costs less than half of one over loopback TCP); a data directory too deep for a
// socket path, or one where the socket cannot be made, still works, over TCP.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { socketDirectoryFor, startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';

const serverAddress = async (url: string) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ a: string | null }>('SELECT inet_server_addr()::text AS a')).rows[0]!.a;
  } finally {
    await client.end();
  }
};

let deep: string | undefined;
afterAll(async () => {
  if (deep) await fs.rm(deep, { recursive: true, force: true });
});

describe('embedded PostgreSQL connection', () => {
  it('puts the socket in the cluster directory when the path fits, else none', () => {
    expect(socketDirectoryFor('/tmp/cb/postgres', 54321)).toBe('/tmp/cb/postgres');
    expect(socketDirectoryFor('relative/postgres', 5432)).toBe(path.resolve('relative/postgres'));
    expect(socketDirectoryFor(`/tmp/${'d'.repeat(80)}/postgres`, 54321)).toBeUndefined();
  });

  it('the server is reached through its Unix-domain socket', async () => {
    const url = inject('postgresUrl');
    expect(new URL(url).searchParams.get('host')).toMatch(/postgres$/);
    expect(await serverAddress(url)).toBeNull(); // no inet address: a Unix-domain socket
  });

  it('when the socket cannot be made, PostgreSQL starts again over TCP', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'carebridge-nosock-'));
    await fs.chmod(dir, 0o755);
    // A directory that does not exist: PostgreSQL refuses to start with that socket.
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const db = await startEmbeddedPostgres(dir, logger, { socketDir: path.join(dir, 'missing') });
    try {
      expect(lines.join('')).toContain('could not start with a Unix-domain socket; using TCP only');
      expect(new URL(db.url).searchParams.get('host')).toBeNull();
      expect(await serverAddress(db.url)).toBe('127.0.0.1/32');
    } finally {
      await db.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a data directory too deep for a socket path starts and is reached over TCP', async () => {
    deep = await fs.mkdtemp(path.join(os.tmpdir(), 'carebridge-deep-'));
    let dir = deep;
    for (const part of ['a'.repeat(40), 'b'.repeat(40)]) {
      dir = path.join(dir, part);
      await fs.mkdir(dir);
    }
    // The unprivileged postgres user (when run as root) must reach its data directory.
    for (let d = dir; d.startsWith(deep); d = path.dirname(d)) await fs.chmod(d, 0o755);
    const db = await startEmbeddedPostgres(dir, pino({ level: 'silent' }));
    try {
      expect(new URL(db.url).searchParams.get('host')).toBeNull();
      expect(await serverAddress(db.url)).toBe('127.0.0.1/32');
    } finally {
      await db.stop();
    }
  }, 60_000);
});
