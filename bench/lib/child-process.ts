/**
 * Process plumbing shared by the benchmarks' server launchers (bench/lib/server-process.ts and
 * bench/search/server.ts): a free port, liveness, and stopping a server child together with the
 * embedded PostgreSQL it started.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * SIGTERM the server (SIGKILL after `graceMs`), then make sure the PostgreSQL it started under
 * `dataDir` is down too: a server killed before stopping it leaves the postmaster running.
 */
export async function stopServerChild(child: ChildProcess, dataDir: string, graceMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    if (!(await waitForExit(child, graceMs))) {
      process.stderr.write(`[bench] the server did not stop within ${graceMs / 1000} s; killing it and its PostgreSQL\n`);
      child.kill('SIGKILL');
      await waitForExit(child, 5_000);
    }
  }
  const pidText = await fs.readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '');
  const postmaster = Number(pidText.split('\n')[0]);
  if (Number.isInteger(postmaster) && postmaster > 0 && isAlive(postmaster)) {
    process.kill(postmaster, 'SIGINT');
    for (let i = 0; i < 600 && isAlive(postmaster); i++) await sleep(100);
  }
}
