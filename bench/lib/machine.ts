/**
 * What the numbers were measured on: CPU model and core count, memory, kernel, Node.js and
 * PostgreSQL versions, and the load average when the run started (a high one means the machine
 * was busy and the figures are noisy). Throughput on a 2-core box is not comparable with a
 * 16-core one, so every result carries this, and the git commit of the code measured.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import type pg from 'pg';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string | undefined;
  /** 1, 5 and 15 minute load averages at the start of the run. */
  loadAverage: number[];
  /** `git describe --always --dirty` of the repository: the code that was measured ("-dirty": uncommitted changes). */
  source: string;
}

function gitDescribe(repoRoot: string): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return (m[1] as string).trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function machineInfo(repoRoot: string): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: undefined,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    source: gitDescribe(repoRoot),
  };
}

export async function postgresVersion(db: Pick<pg.Pool, 'query'>): Promise<string> {
  const { rows } = await db.query<{ version: string }>('SELECT version()');
  return rows[0]?.version ?? 'unknown';
}

/**
 * With uncommitted changes ("-dirty") the commit does not say what was measured: a hash of the
 * diff of src/ against HEAD plus the untracked files under src/ tells two working trees apart.
 * Undefined when src/ is as committed (or git is not available).
 */
export async function sourceFingerprint(repoRoot: string): Promise<string | undefined> {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
    const hash = createHash('sha256').update(git('diff', 'HEAD', '--', 'src'));
    const untracked = git('ls-files', '--others', '--exclude-standard', '--', 'src').split('\n').filter(Boolean).sort();
    if (!untracked.length && hash.copy().digest('hex') === createHash('sha256').digest('hex')) return undefined;
    for (const file of untracked) hash.update(file).update(await fs.promises.readFile(path.join(repoRoot, file)));
    return `src/ differs from HEAD: ${untracked.length} untracked file(s), working-tree sha256 ${hash.digest('hex').slice(0, 12)}`;
  } catch {
    return undefined;
  }
}
