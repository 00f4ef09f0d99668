/**
 * Turns the raw results into the markdown report printed at the end of a run (and pasted into
 * bench/RESULTS.md): the machine, one table for single-resource operations, one for transaction
 * ingest, and the targets from the issue with pass/fail, so a regression is visible at a glance.
 */
import type { MachineInfo } from './machine.ts';
import type { BenchOptions } from './options.ts';
import type { CrudOperation, CrudRow } from '../scenarios/crud.ts';
import type { IngestRow } from '../scenarios/ingest.ts';

export interface TargetCheck {
  target: string;
  measured: string;
  /** undefined when the scenario was not run. */
  pass: boolean | undefined;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  options: Omit<BenchOptions, 'repoRoot' | 'resultsDir'>;
  machine: MachineInfo;
  server: { maxRssMiB: number | undefined; rssSamples: number };
  crud: CrudRow[];
  ingest: IngestRow[];
  /** Why the ingest scenario did not run, when it did not. */
  ingestSkipped: string | undefined;
  targets: TargetCheck[];
}

/** The ratio the issue asks for: raw-SQL throughput / server throughput. */
export const MAX_RATIO = 3;

const num = (n: number | undefined): string => {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
};
const ratio = (r: number | undefined) => (r === undefined ? '–' : `${r.toFixed(2)}×`);
const ok = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL');
const withinRatio = (r: number | undefined) => (r === undefined ? undefined : r <= MAX_RATIO);

export function checkTargets(crud: readonly CrudRow[], ingest: readonly IngestRow[]): TargetCheck[] {
  const at8 = (op: CrudOperation) => crud.find((r) => r.operation === op && r.concurrency === 8);
  const checks: TargetCheck[] = [];
  const throughput = (op: CrudOperation, label: string, min: number) => {
    const row = at8(op);
    const value = row && !row.server.errors ? row.server.throughput : undefined;
    checks.push({ target: `${label} at 8 clients ≥ ${min.toLocaleString('en-US')}/s`, measured: row ? `${num(row.server.throughput)}/s${row.server.errors ? ` (${row.server.errors} errors)` : ''}` : 'not run', pass: row ? value !== undefined && value >= min : undefined });
  };
  const within = (op: CrudOperation, label: string) => {
    const row = at8(op);
    checks.push({ target: `${label} at 8 clients within ${MAX_RATIO}× of raw SQL`, measured: row ? ratio(row.ratio) : 'not run', pass: row ? withinRatio(row.ratio) : undefined });
  };
  throughput('read', 'Reads', 1500);
  within('read', 'Reads');
  throughput('create', 'Creates', 600);
  within('create', 'Creates');
  within('update', 'Updates');
  const best = [...ingest].filter((r) => !r.server.errors).sort((a, b) => b.server.resourcesPerSecond - a.server.resourcesPerSecond)[0];
  checks.push({
    target: 'Transaction ingest ≥ 1,500 resources/s (best uploader count)',
    measured: best ? `${num(best.server.resourcesPerSecond)}/s with ${best.concurrency} uploader(s)` : ingest.length ? 'every run had errors' : 'not run',
    pass: best ? best.server.resourcesPerSecond >= 1500 : ingest.length ? false : undefined,
  });
  checks.push({
    target: `Transaction ingest within ${MAX_RATIO}× of raw SQL (same uploader count)`,
    measured: best ? ratio(best.ratio) : 'not run',
    pass: best ? withinRatio(best.ratio) : ingest.length ? false : undefined,
  });
  return checks;
}

export function machineMarkdown(m: MachineInfo): string {
  return [
    `- CPU: ${m.cpuModel}, ${m.cores} cores`,
    `- Memory: ${m.memoryGiB} GiB`,
    `- OS: ${m.os}`,
    `- Node.js: ${m.node}`,
    `- PostgreSQL: ${m.postgres ?? 'unknown'}`,
    `- Load average at start (1/5/15 min): ${m.loadAverage.join(' / ')}`,
    `- Code: ${m.source}`,
  ].join('\n');
}

export function crudMarkdown(rows: readonly CrudRow[]): string {
  const head = [
    '| Operation | Clients | Server ops/s | p50 ms | p95 ms | p99 ms | Errors | Raw SQL ops/s | SQL p50 ms | SQL p95 ms | SQL p99 ms | SQL/server | ≤ 3× | Server RSS max MiB |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|--:|',
  ];
  const lines = rows.map((r) => {
    const s = r.server;
    const b = r.baseline;
    return `| ${r.operation} | ${r.concurrency} | ${num(s.throughput)} | ${num(s.latencyMs.p50)} | ${num(s.latencyMs.p95)} | ${num(s.latencyMs.p99)} | ${s.errors} | ${num(b?.throughput)} | ${num(b?.latencyMs.p50)} | ${num(b?.latencyMs.p95)} | ${num(b?.latencyMs.p99)} | ${ratio(r.ratio)} | ${ok(withinRatio(r.ratio))} | ${num(s.rssMaxMiB)} |`;
  });
  return [...head, ...lines].join('\n');
}

export function ingestMarkdown(rows: readonly IngestRow[]): string {
  const head = [
    '| Uploaders | Bundles | Resources | Server s | Server resources/s | Bundle p50 ms | Bundle p95 ms | Errors | Raw SQL s | Raw SQL resources/s | SQL/server | ≤ 3× | Server RSS max MiB |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|--:|',
  ];
  const lines = rows.map((r) => {
    const s = r.server;
    const b = r.baseline;
    return `| ${r.concurrency} | ${r.bundles} | ${r.resources.toLocaleString('en-US')} | ${num(s.seconds)} | ${num(s.resourcesPerSecond)} | ${num(s.bundleLatencyMs.p50)} | ${num(s.bundleLatencyMs.p95)} | ${s.errors} | ${num(b?.seconds)} | ${num(b?.resourcesPerSecond)} | ${ratio(r.ratio)} | ${ok(withinRatio(r.ratio))} | ${num(s.rssMaxMiB)} |`;
  });
  return [...head, ...lines].join('\n');
}

export function targetsMarkdown(checks: readonly TargetCheck[]): string {
  return ['| Target | Measured | Result |', '|---|---|:-:|', ...checks.map((c) => `| ${c.target} | ${c.measured} | ${ok(c.pass)} |`)].join('\n');
}

export function reportMarkdown(results: BenchResults): string {
  const o = results.options;
  const parts = [
    `## CareBridge benchmark, ${results.startedAt}`,
    '',
    machineMarkdown(results.machine),
    '',
    `Settings: ${o.seconds} s measured after ${o.warmupSeconds} s warm-up per run; clients ${o.concurrency.join(', ')}; ingest uploaders ${o.ingestConcurrency.join(', ')}; server DB pool ${o.dbPoolSize}; scenarios ${o.scenarios.join(', ')}; baseline ${o.baseline ? 'on' : 'off'}; ANALYZE before each run ${o.analyze ? 'on' : 'off'}.`,
    '',
  ];
  if (results.crud.length) parts.push('### Single-resource operations (Patient)', '', crudMarkdown(results.crud), '');
  if (results.ingest.length) parts.push('### Transaction ingest (Synthea Bundles)', '', ingestMarkdown(results.ingest), '');
  if (results.ingestSkipped) parts.push(`### Transaction ingest: skipped`, '', results.ingestSkipped, '');
  parts.push(`Server process max RSS over the whole run: ${num(results.server.maxRssMiB)} MiB (${results.server.rssSamples} samples).`, '');
  parts.push('### Targets', '', targetsMarkdown(results.targets), '');
  return parts.join('\n');
}
