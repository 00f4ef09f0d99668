/**
 * Summarises a V8 .cpuprofile (written by the server child under BENCH_CPU_PROF=1) into the
 * functions and packages with the most self time, to see where the server spends its CPU under
 * load without opening a profiler UI. Also usable alone: `node bench/lib/cpu-profile.ts <file>`.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfPercent: number;
}

/** Where a script belongs: an npm package, a file of this repository, or Node/V8 internals. */
function owner(url: string): string {
  if (!url) return '(V8/native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return '(node internals)';
  const src = /\/(src\/.+|bench\/.+)$/.exec(url);
  return src ? (src[1] as string) : url;
}

export function summarizeProfile(file: string, top = 25): { functions: ProfileEntry[]; owners: ProfileEntry[]; totalMs: number } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let total = 0;
  for (const us of selfUs.values()) total += us;
  const functions = new Map<string, number>();
  const owners = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    const where = frame.url ? `${owner(frame.url)}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const o = frame.functionName === '(idle)' ? '(idle)' : frame.functionName === '(garbage collector)' ? '(garbage collector)' : owner(frame.url);
    owners.set(o, (owners.get(o) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfPercent: (100 * us) / (total || 1) }));
  return { functions: sorted(functions), owners: sorted(owners), totalMs: total / 1000 };
}

/** Where BENCH_CPU_PROF asks for the server's profiles: `1` → `<resultsDir>/profiles`, a path, or none. */
export function cpuProfileDir(env: NodeJS.ProcessEnv, resultsDir: string): string | undefined {
  const prof = env.BENCH_CPU_PROF?.trim();
  return prof && prof !== '0' ? (prof === '1' ? path.join(resultsDir, 'profiles') : path.resolve(prof)) : undefined;
}

/** The newest .cpuprofile in `dir` written at or after `since` (ms since the epoch). */
export async function newestProfile(dir: string, since: number): Promise<string | undefined> {
  const files = await fsp.readdir(dir).catch(() => [] as string[]);
  const stats = await Promise.all(files.filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ f, t: (await fsp.stat(path.join(dir, f))).mtimeMs })));
  const newest = stats.filter((s) => s.t >= since).sort((a, b) => b.t - a.t)[0];
  return newest && path.join(dir, newest.f);
}

export function profileMarkdown(file: string, top = 25): string {
  const s = summarizeProfile(file, top);
  return [
    `CPU profile ${path.basename(file)} (${(s.totalMs / 1000).toFixed(1)} s sampled)`,
    '',
    '| Self % | By package / file |',
    '|--:|---|',
    ...s.owners.map((e) => `| ${e.selfPercent.toFixed(1)} | ${e.name} |`),
    '',
    '| Self % | Function |',
    '|--:|---|',
    ...s.functions.map((e) => `| ${e.selfPercent.toFixed(1)} | ${e.name} |`),
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/lib/cpu-profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${profileMarkdown(file, Number(process.argv[3] ?? 25))}\n`);
}
