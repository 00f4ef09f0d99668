/**
 * Who used the 2 cores during a measured window: the server's Node.js process, its embedded
 * PostgreSQL (every process descended from the server: postmaster, backends, and children already
 * reaped, through cutime/cstime), and this bench process (writers and the hook receiver, which
 * share the machine with what they measure). Read from /proc; on other systems the server figures
 * are undefined and only the bench's own is reported.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface CpuTimes {
  /** Seconds of CPU so far. */
  server: number | undefined;
  postgres: number | undefined;
  bench: number;
  /** performance.now() when read. */
  at: number;
}

/** Cores used on average between two readings. */
export interface CpuUse {
  server: number | undefined;
  postgres: number | undefined;
  bench: number;
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

interface ProcStat {
  ppid: number;
  /** utime + stime, and cutime + cstime (children already waited for), in ticks. */
  own: number;
  children: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state ppid … utime(14) stime(15) cutime(16) cstime(17), counted from 1 with pid.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}

export function readCpuTimes(serverPid: number): CpuTimes {
  const usage = process.cpuUsage();
  const bench = (usage.user + usage.system) / 1e6;
  const at = performance.now();
  let pids: number[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return { server: undefined, postgres: undefined, bench, at };
  }
  const stats = new Map<number, ProcStat>();
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) stats.set(pid, s);
  }
  const server = stats.get(serverPid);
  if (!server) return { server: undefined, postgres: undefined, bench, at };
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let postgres = 0;
  const queue = [...(children.get(serverPid) ?? [])];
  while (queue.length) {
    const pid = queue.pop() as number;
    const s = stats.get(pid);
    if (!s) continue;
    postgres += s.own + s.children;
    queue.push(...(children.get(pid) ?? []));
  }
  return { server: server.own / clockTicks(), postgres: postgres / clockTicks(), bench, at };
}

export function cpuUse(from: CpuTimes, to: CpuTimes): CpuUse {
  const seconds = (to.at - from.at) / 1000;
  const per = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || seconds <= 0 ? undefined : (b - a) / seconds);
  return { server: per(from.server, to.server), postgres: per(from.postgres, to.postgres), bench: per(from.bench, to.bench) ?? 0 };
}
