/**
 * What code was measured, for the report: `git describe` says the commit, but with uncommitted
 * changes ("-dirty") it does not say what ran. As in bench/subscriptions/run.ts, a hash of the
 * diff of src/ against HEAD plus the untracked files under src/ tells two working trees apart.
 * When the server ran from another folder (BENCH_SERVER_DIR), that folder is named, with its own
 * `git describe` when it is a checkout, or the commit in its `.bench-commit` file when it is an
 * export (`git archive`).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });

async function srcFingerprint(repoRoot: string): Promise<string | undefined> {
  try {
    const hash = createHash('sha256').update(git(repoRoot, 'diff', 'HEAD', '--', 'src'));
    const untracked = git(repoRoot, 'ls-files', '--others', '--exclude-standard', '--', 'src').split('\n').filter(Boolean).sort();
    if (!untracked.length && hash.copy().digest('hex') === createHash('sha256').digest('hex')) return undefined;
    for (const file of untracked) hash.update(file).update(await fs.readFile(path.join(repoRoot, file)));
    return `src/ differs from HEAD: ${untracked.length} untracked file(s), working-tree sha256 ${hash.digest('hex').slice(0, 12)}`;
  } catch {
    return undefined;
  }
}

/** Appended to `machine.source` (git describe of the repository). */
export async function sourceNote(repoRoot: string, serverDir: string): Promise<string | undefined> {
  if (path.resolve(serverDir) === path.resolve(repoRoot)) return srcFingerprint(repoRoot);
  let what: string;
  try {
    what = `git describe ${git(serverDir, 'describe', '--always', '--dirty', '--abbrev=12').trim()}`;
  } catch {
    const commit = (await fs.readFile(path.join(serverDir, '.bench-commit'), 'utf8').catch(() => '')).trim();
    what = commit ? `export of commit ${commit.slice(0, 12)}` : 'not a git checkout';
  }
  return `server run from ${serverDir} (${what})`;
}
