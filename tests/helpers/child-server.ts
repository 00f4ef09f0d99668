/** CareBridge as a child process (`carebridge serve`), for tests that kill it or run two of it. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface ChildServer {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<void>;
  /** SIGTERM and wait (SIGKILL after 15 s). */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/** Starts the server on `databaseUrl` and waits until it says it is running. */
export async function startChildServer(databaseUrl: string, env: Record<string, string> = {}, port?: number): Promise<ChildServer> {
  const httpPort = port ?? (await freePort());
  const child = spawn(process.execPath, ['src/cli.ts', 'serve'], {
    cwd: repo,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(httpPort), HOST: '127.0.0.1', MLLP_PORT: '0', LOG_LEVEL: 'warn', DB_POOL_SIZE: '10', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!out.includes('CareBridge is running')) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    port: httpPort,
    output: () => out,
    exited,
    stop: async () => {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
    kill: async () => {
      if (!running()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
