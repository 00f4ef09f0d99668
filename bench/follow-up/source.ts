/**
 * What code was measured, for the report: `git describe` says the commit, but with uncommitted
 * changes ("-dirty") it does not say what ran: then the fingerprint of src/ (bench/lib/machine.ts).
 * When the server ran from another folder (BENCH_SERVER_DIR), that folder is named, with its own
 * `git describe` when it is a checkout, or the commit in its `.bench-commit` file when it is an
 * export (`git archive`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sourceFingerprint } from '../lib/machine.ts';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

/** Appended to `machine.source` (git describe of the repository). */
export async function sourceNote(repoRoot: string, serverDir: string): Promise<string | undefined> {
  if (path.resolve(serverDir) === path.resolve(repoRoot)) return sourceFingerprint(repoRoot);
  let what: string;
  try {
    what = `git describe ${git(serverDir, 'describe', '--always', '--dirty', '--abbrev=12').trim()}`;
  } catch {
    const commit = (await fs.readFile(path.join(serverDir, '.bench-commit'), 'utf8').catch(() => '')).trim();
    what = commit ? `export of commit ${commit.slice(0, 12)}` : 'not a git checkout';
  }
  return `server run from ${serverDir} (${what})`;
}
