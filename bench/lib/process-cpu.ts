/**
 * CPU time used by the processes of a benchmark, read from /proc (Linux): the server's Node.js
 * process; its embedded PostgreSQL — the postmaster, its live children (backends, autovacuum, WAL
 * writer…) and the children that exited meanwhile, which the postmaster has waited for (its
 * cutime/cstime); and the load generator (this process). On a shared VM a run that gets fewer
 * cycles is slower, but each message costs about the same CPU: CPU per operation tells whether a
 * change made the work smaller when throughput is within the noise.
 */
import fs from 'node:fs';

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on every architecture Node.js runs on Linux. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime (waited-for children), in ticks. */
  children: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // not Linux, or the process has exited
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  return { ppid: f[1]!, own: f[11]! + f[12]!, children: f[13]! + f[14]! };
}

export interface CpuSample {
  serverMs: number;
  postgresMs: number;
  loadGeneratorMs: number;
}

/** Cumulative CPU of the server, its PostgreSQL and this process; undefined where /proc is missing. */
export function sampleCpu(serverPid: number, postmaster: number): CpuSample | undefined {
  const server = readStat(serverPid);
  const pm = readStat(postmaster);
  if (!server || !pm) return undefined;
  let postgresTicks = pm.own + pm.children;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = readStat(Number(entry));
    if (child?.ppid === postmaster) postgresTicks += child.own;
  }
  const self = process.cpuUsage();
  return {
    serverMs: (server.own * 1000) / TICKS_PER_SECOND,
    postgresMs: (postgresTicks * 1000) / TICKS_PER_SECOND,
    loadGeneratorMs: (self.user + self.system) / 1000,
  };
}

/** CPU milliseconds per operation between two samples. */
export function cpuPerOperation(from: CpuSample | undefined, to: CpuSample | undefined, operations: number): CpuSample | undefined {
  if (!from || !to || operations <= 0) return undefined;
  return {
    serverMs: (to.serverMs - from.serverMs) / operations,
    postgresMs: (to.postgresMs - from.postgresMs) / operations,
    loadGeneratorMs: (to.loadGeneratorMs - from.loadGeneratorMs) / operations,
  };
}
