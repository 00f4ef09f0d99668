/**
 * Runs the CareBridge server under test in its own process, exactly as deployed
 * (`node src/cli.ts serve`), so its CPU, memory and event loop are separate from the load
 * generator's. Each run gets a fresh DATA_DIR under the OS temp folder (an embedded PostgreSQL is
 * created there), a free port and LOG_LEVEL=warn; `stop()` sends SIGTERM (the server stops its
 * embedded PostgreSQL) and removes the folder.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, sleep, stopServerChild } from './child-process.ts';

export interface ServerProcessOptions {
  repoRoot: string;
  dbPoolSize: number;
  /** Start the server with `--cpu-prof` writing into this folder. */
  cpuProfDir?: string | undefined;
  /** Extra environment for the server (e.g. HL7 settings). */
  env?: Record<string, string>;
  /** Called as soon as the process exists, before it is ready, so an interrupted start-up is cleaned up too. */
  onSpawn?: (stop: () => Promise<void>) => void;
}

export interface ServerProcess {
  pid: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** http://127.0.0.1:<port>/fhir */
  fhirBaseUrl: string;
  /** The HL7 v2 MLLP listener's port. */
  mllpPort: number;
  dataDir: string;
  /** Connection string of the embedded PostgreSQL's `postgres` database (sessions in UTC). */
  postgresUrl: string;
  /** The embedded PostgreSQL's postmaster (its backends are its children). */
  postgresPid: number;
  /** The last lines the server printed, for error messages. */
  recentOutput(): string;
  /** SIGTERM, wait for exit (SIGKILL after a grace period), remove DATA_DIR. Safe to call more than once. */
  stop(): Promise<void>;
}




/** Reads the embedded server's pid and port (lines 1 and 4 of postmaster.pid) and the credentials CareBridge stored. */
async function embeddedPostgres(dataDir: string): Promise<{ url: string; pid: number }> {
  const pidFile = (await fs.readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n');
  const pid = Number(pidFile[0]);
  const port = Number(pidFile[3]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`cannot read the PostgreSQL pid from ${dataDir}/postgres/postmaster.pid`);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`cannot read the PostgreSQL port from ${dataDir}/postgres/postmaster.pid`);
  // Line 5: the Unix-domain socket directory, when the server has one — the server connects through it too.
  const socketDir = pidFile[4]?.trim();
  const { user, password } = JSON.parse(await fs.readFile(path.join(dataDir, 'postgres-credentials.json'), 'utf8')) as { user: string; password: string };
  const url = `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?options=${encodeURIComponent('-c TimeZone=UTC')}${socketDir ? `&host=${encodeURIComponent(socketDir)}` : ''}`;
  return { url, pid };
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited during start-up (code ${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await sleep(200);
  }
  throw new Error(`the server was not ready after ${timeoutMs / 1000} s:\n${output()}`);
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'carebridge-bench-'));
  // As root, the embedded PostgreSQL runs as an unprivileged user that must reach its data directory.
  await fs.chmod(dataDir, 0o755);
  const port = await freePort();
  const mllpPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', MLLP_PORT: String(mllpPort), MLLP_HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', DB_POOL_SIZE: String(options.dbPoolSize), ...options.env };
  delete env.DATABASE_URL; // always the embedded server, so the baseline can share it
  delete env.BASE_URL;
  const nodeArgs: string[] = [];
  if (options.cpuProfDir) {
    await fs.mkdir(options.cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  }
  const child = spawn(process.execPath, [...nodeArgs, path.join(options.repoRoot, 'src', 'cli.ts'), 'serve'], {
    cwd: options.repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const recent: string[] = [];
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 100) recent.shift();
      process.stderr.write(`[server] ${line}\n`);
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const recentOutput = () => recent.join('\n');

  let stopping: Promise<void> | undefined;
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`[bench] the server process exited unexpectedly (${signal ?? `code ${code}`}); the run will fail\n`);
  });
  const stop = () =>
    (stopping ??= (async () => {
      await stopServerChild(child, dataDir, 60_000);
      await fs.rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    })());

  options.onSpawn?.(stop);
  try {
    if (child.pid === undefined) throw new Error('could not start the server process');
    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(url, child, 180_000, recentOutput);
    const postgres = await embeddedPostgres(dataDir);
    return { pid: child.pid, url, fhirBaseUrl: `${url}/fhir`, mllpPort, dataDir, postgresUrl: postgres.url, postgresPid: postgres.pid, recentOutput, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
