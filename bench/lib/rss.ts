/**
 * Samples the resident set size (VmRSS in /proc/<pid>/status) of the server process every 100 ms
 * while the benchmark runs, to report how much memory the server needs under each load: the
 * overall maximum, and the maximum since the last `takeWindowMax()` (one scenario). Only the
 * Node.js server process is sampled, not its embedded PostgreSQL children.
 */
import fs from 'node:fs';

export function readRssKiB(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // not Linux, or the process has exited
  }
}

export class RssSampler {
  private readonly pid: number;
  private readonly timer: NodeJS.Timeout;
  private overallMaxKiB = 0;
  private windowMaxKiB = 0;
  samples = 0;

  constructor(pid: number, intervalMs = 100) {
    this.pid = pid;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const kib = readRssKiB(this.pid);
    if (kib === undefined) return;
    this.samples++;
    if (kib > this.overallMaxKiB) this.overallMaxKiB = kib;
    if (kib > this.windowMaxKiB) this.windowMaxKiB = kib;
  }

  /** Max RSS in MiB since the previous call (or the start), then starts a new window. */
  takeWindowMaxMiB(): number | undefined {
    this.sample();
    const max = this.windowMaxKiB;
    this.windowMaxKiB = 0;
    return max ? max / 1024 : undefined;
  }

  get maxMiB(): number | undefined {
    return this.overallMaxKiB ? this.overallMaxKiB / 1024 : undefined;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
