// `npm start` as an operator runs it: the CLI in its own process on an embedded PostgreSQL under
// DATA_DIR (run as an unprivileged user when we are root), printing its URLs; data surviving a
// restart; SIGTERM finishing in-flight requests; recovery after kill -9.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '..');
let dataDir: string;
let port: number;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

interface Cli {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startCli(): Promise<Cli> {
  const child = spawn(process.execPath, ['src/cli.ts', 'serve'], {
    cwd: repo,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', MLLP_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info', DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('CareBridge is running')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => out, exited };
}

const base = () => `http://127.0.0.1:${port}/fhir`;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'carebridge-cli-'));
  fs.chmodSync(dataDir, 0o755);
  port = await freePort();
});
afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('carebridge serve on an embedded PostgreSQL', () => {
  let patientId: string;

  it('starts, prints the URLs it serves, and creates the cluster as an unprivileged user', async () => {
    const cli = await startCli();
    try {
      expect(cli.output()).toContain(`FHIR R4 API:  http://127.0.0.1:${port}/fhir`);
      expect(cli.output()).toContain(`/healthz`);
      if (process.getuid?.() === 0) {
        const owner = fs.statSync(path.join(dataDir, 'postgres', 'PG_VERSION')).uid;
        expect(owner).not.toBe(0);
      }
      const res = await fetch(`${base()}/Patient`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ resourceType: 'Patient', name: [{ family: '李', given: ['四'] }] }),
      });
      expect(res.status).toBe(201);
      patientId = ((await res.json()) as any).id;
    } finally {
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    }
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false); // PostgreSQL stopped too
  });

  it('keeps the data across a restart, and on SIGTERM finishes the request in flight before exiting', async () => {
    const cli = await startCli();
    const read = await fetch(`${base()}/Patient/${patientId}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as any).name[0].family).toBe('李');
    const bundle = fs.readFileSync(path.join(repo, 'tests/fixtures/synthea/Barry_Wolf_f0c0c377-be9c-4ca2-97c0-7cef574bdb45.json'), 'utf8');
    const inFlight = fetch(base(), { method: 'POST', headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' }, body: bundle });
    await new Promise((r) => setTimeout(r, 50));
    cli.child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).entry).toHaveLength(352);
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain('"msg":"stopped"');
  });

  it('recovers after kill -9: the orphaned PostgreSQL is stopped and the data is intact', async () => {
    const first = await startCli();
    first.child.kill('SIGKILL');
    await first.exited;
    const cli = await startCli();
    try {
      expect(cli.output()).toContain('stopping a PostgreSQL server left running on the data directory');
      const count = (await (await fetch(`${base()}/Observation?_summary=count`)).json()) as any;
      expect(count.total).toBeGreaterThan(100);
      expect((await fetch(`${base()}/Patient/${patientId}`)).status).toBe(200);
    } finally {
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    }
  });

  it('refuses bad configuration with a clear message and exit code 1', async () => {
    const child = spawn(process.execPath, ['src/cli.ts', 'serve'], { cwd: repo, env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err).toContain('configuration error: PORT must be an integer from 0 to 65535, got "eighty"');
  });
});
