/**
 * The server under test for the search benchmark: `node src/cli.ts serve` in its own process on a
 * DATA_DIR that outlives it (loading a million resources takes a while, so the data directory is
 * kept and reused). Unlike bench/lib/server-process.ts, `stop()` leaves DATA_DIR in place. Every
 * line the server prints can be observed (`onLine`), which the EXPLAIN step uses to read the SQL
 * statements PostgreSQL logs (the server forwards its embedded PostgreSQL's stderr to its own
 * logger at debug level).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePort, sleep, stopServerChild } from '../lib/child-process.ts';

export interface StartOptions {
  repoRoot: string;
  dataDir: string;
  dbPoolSize: number;
  logLevel: 'warn' | 'debug';
  /** Called with every line of the server's output. */
  onLine?: (line: string) => void;
  /** Echo the server's output to stderr (default: only when the log level is warn). */
  echo?: boolean;
}

export interface RunningServer {
  pid: number;
  fhirBaseUrl: string;
  dataDir: string;
  /** The embedded PostgreSQL as the server's own database user (sessions in UTC). */
  postgresUrl: string;
  recentOutput(): string;
  /** SIGTERM and wait for the server (and its PostgreSQL) to stop. DATA_DIR is kept. */
  stop(): Promise<void>;
}




export async function embeddedPostgresUrl(dataDir: string): Promise<string> {
  const pidFile = await fs.readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
  const port = Number(pidFile.split('\n')[3]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`cannot read the PostgreSQL port from ${dataDir}/postgres/postmaster.pid`);
  const { user, password } = JSON.parse(await fs.readFile(path.join(dataDir, 'postgres-credentials.json'), 'utf8')) as { user: string; password: string };
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?options=${encodeURIComponent('-c TimeZone=UTC')}`;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  await fs.mkdir(options.dataDir, { recursive: true });
  // As root, the embedded PostgreSQL runs as an unprivileged user that must reach its data directory.
  await fs.chmod(options.dataDir, 0o755);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', MLLP_PORT: '0', DATA_DIR: options.dataDir, LOG_LEVEL: options.logLevel, DB_POOL_SIZE: String(options.dbPoolSize), SUBSCRIPTION_ENGINE: 'off' };
  delete env.DATABASE_URL;
  delete env.BASE_URL;
  const child = spawn(process.execPath, [path.join(options.repoRoot, 'src', 'cli.ts'), 'serve'], { cwd: options.repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const echo = options.echo ?? options.logLevel === 'warn';

  const recent: string[] = [];
  const lineReader = () => {
    let partial = '';
    return (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        recent.push(line);
        if (recent.length > 100) recent.shift();
        if (echo) process.stderr.write(`[server] ${line.length > 2000 ? `${line.slice(0, 2000)}…` : line}\n`);
        options.onLine?.(line);
      }
    };
  };
  child.stdout?.on('data', lineReader());
  child.stderr?.on('data', lineReader());
  const recentOutput = () => recent.join('\n');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await stopServerChild(child, options.dataDir, 90_000);
    })());

  try {
    if (child.pid === undefined) throw new Error('could not start the server process');
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited during start-up (code ${child.exitCode ?? child.signalCode}):\n${recentOutput()}`);
      if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
      if (Date.now() > deadline) throw new Error(`the server was not ready after 300 s:\n${recentOutput()}`);
      await sleep(200);
    }
    return { pid: child.pid, fhirBaseUrl: `${url}/fhir`, dataDir: options.dataDir, postgresUrl: await embeddedPostgresUrl(options.dataDir), recentOutput, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
