/**
 * The search benchmark's markdown report: dataset and load, one row per query and client count,
 * the targets with pass/fail, answers that looked wrong, and the EXPLAIN plans (flagged Seq Scans
 * first).
 */
import type { MachineInfo } from '../lib/machine.ts';
import { machineMarkdown } from '../lib/report.ts';
import { LARGE_SCAN_ROWS, scanNotes } from './explain.ts';
import type { QueryPlans } from './explain.ts';
import type { Manifest } from './loader.ts';
import type { QueryResult } from './measure.ts';
import type { SearchBenchOptions } from './options.ts';
import type { QueryDef } from './queries.ts';

export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean | undefined;
}

export interface SearchResults {
  startedAt: string;
  finishedAt: string;
  options: Omit<SearchBenchOptions, 'repoRoot' | 'resultsDir'>;
  machine: MachineInfo;
  dataDir: string;
  /** True when this run loaded the data (false: reused). */
  loadedNow: boolean;
  manifest: Omit<Manifest, 'samples' | 'heavy'> & { samples: number; heavy: Array<{ id: string; resources: number }> };
  queries: QueryResult[];
  server: { maxRssMiBQueries: number | undefined; maxRssMiBLoad: number | undefined; rssSamples: number; memoryAfterQueries: Record<string, number> | undefined };
  plans: QueryPlans[] | undefined;
  explainError: string | undefined;
  targets: TargetCheck[];
}

export const RSS_TARGET_MIB = 512;
const GENERAL_P95_MS = 200;
const TOTAL_MS = 1000;

const num = (n: number | undefined): string => {
  if (n === undefined || !Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
};
const ok = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL');
const cell = (s: string) => s.replaceAll('|', '\\|');

export function checkTargets(defs: readonly QueryDef[], results: readonly QueryResult[], concurrency: readonly number[], maxRssMiB: number | undefined): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const run = (r: QueryResult | undefined, c: number) => r?.runs.find((m) => m.concurrency === c);
  const p95 = (r: QueryResult | undefined, c: number) => {
    const m = run(r, c);
    return m && m.ops > 0 ? m.latencyMs.p95 : undefined;
  };
  const describe = (r: QueryResult | undefined, c: number) => (r ? (r.probe.status !== 'ok' ? r.probe.status : `${num(p95(r, c))} ms`) : 'not run');
  for (const def of defs.filter((d) => d.p95TargetMs)) {
    const r = results.find((x) => x.id === def.id);
    const v = p95(r, 1);
    checks.push({ target: `q${def.id} p95 < ${def.p95TargetMs} ms at 1 client`, measured: describe(r, 1), pass: r ? v !== undefined && v < (def.p95TargetMs as number) : undefined });
  }
  for (const c of concurrency) {
    const rows = results.filter((r) => !defs.find((d) => d.id === r.id)?.totalCount);
    const failing = rows.filter((r) => {
      const v = p95(r, c);
      return v === undefined || v >= GENERAL_P95_MS;
    });
    checks.push({
      target: `every query p95 < ${GENERAL_P95_MS} ms at ${c} client${c > 1 ? 's' : ''}`,
      measured: rows.length ? (failing.length ? `over or not measured: ${failing.map((r) => `q${r.id} (${describe(r, c)})`).join(', ')}` : 'all under') : 'not run',
      pass: rows.length ? failing.length === 0 : undefined,
    });
  }
  for (const def of defs.filter((d) => d.totalCount)) {
    const r = results.find((x) => x.id === def.id);
    const v = p95(r, 1);
    checks.push({ target: `q${def.id} _total=accurate over ${'≈1M'} rows p95 < ${TOTAL_MS} ms at 1 client`, measured: describe(r, 1), pass: r ? v !== undefined && v < TOTAL_MS : undefined });
  }
  const wrong = results.filter((r) => r.probe.status === 'ok' && r.probe.mismatches.length);
  checks.push({ target: 'answers look right (counts, filters, order, includes, totals)', measured: results.length ? (wrong.length ? `mismatches in ${wrong.map((r) => `q${r.id}`).join(', ')}` : 'all checked answers as expected') : 'not run', pass: results.length ? wrong.length === 0 : undefined });
  checks.push({ target: `server RSS < ${RSS_TARGET_MIB} MB during the queries`, measured: `${num(maxRssMiB)} MiB`, pass: maxRssMiB === undefined ? undefined : maxRssMiB < RSS_TARGET_MIB });
  return checks;
}

function datasetMarkdown(r: SearchResults): string {
  const m = r.manifest;
  const types = Object.entries(m.stats.byType)
    .map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`)
    .join(', ');
  const l = m.load;
  return [
    `- Data dir: \`${r.dataDir}\` (${r.loadedNow ? 'loaded by this run' : `reused; loaded ${m.createdAt}`})`,
    `- Dataset: ${m.stats.patients.toLocaleString('en-US')} patients, ${l.resources.toLocaleString('en-US')} resources (${types}, + ${m.shared.doctors.length + m.shared.nurses.length + 1} Practitioner/Organization); seed ${m.generator.seed}; heavy patients ${m.heavy.map((h) => `${h.id} (${h.resources})`).join(', ')}`,
    `- Load: ${l.bundles.toLocaleString('en-US')} transaction Bundles with ${l.clients} uploaders in ${num(l.seconds)} s = **${num(l.resourcesPerSecond)} resources/s**; Bundle p50 ${num(l.bundleLatencyMs.p50)} ms, p95 ${num(l.bundleLatencyMs.p95)} ms; ${l.retries} retries; VACUUM ANALYZE ${num(l.vacuumSeconds)} s; database ${num(l.databaseBytes / 2 ** 30)} GiB; server max RSS during load ${num(l.serverMaxRssMiB)} MiB`,
  ].join('\n');
}

function queriesMarkdown(r: SearchResults): string {
  const lines = ['| # | Query | Clients | req/s | p50 ms | p95 ms | p99 ms | max ms | Errors | Answers | RSS max MiB |', '|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|'];
  for (const q of r.queries) {
    const answers = q.probe.status !== 'ok' ? q.probe.status : q.probe.mismatches.length ? `MISMATCH (${q.probe.mismatches.length})` : `ok (${q.probe.requests} checked)`;
    if (!q.runs.length) {
      lines.push(`| ${q.id} | ${cell(q.title)} | – | – | ${num(q.probe.latencyMs.p50)}¹ | – | – | ${num(q.probe.latencyMs.max)}¹ | – | ${cell(answers)} | – |`);
      continue;
    }
    for (const m of q.runs) {
      lines.push(`| ${q.id} | ${cell(q.title)} | ${m.concurrency} | ${num(m.throughput)} | ${num(m.latencyMs.p50)} | ${num(m.latencyMs.p95)} | ${num(m.latencyMs.p99)} | ${num(m.latencyMs.max)} | ${m.errors} | ${cell(answers)} | ${num(m.rssMaxMiB)} |`);
    }
  }
  if (r.queries.some((q) => !q.runs.length)) lines.push('', '¹ Probe latency: the query was not load-tested.');
  lines.push('', `Parameter values vary per request: ${r.queries.map((q) => `q${q.id}: ${q.varies}`).join('; ')}.`);
  return lines.join('\n');
}

function plansMarkdown(plans: readonly QueryPlans[], selective: readonly string[]): string {
  const out = [
    `Flag: a Seq Scan on fhir_resource/search_*, or a scan of them reading > ${LARGE_SCAN_ROWS.toLocaleString('en-US')} rows, in a selective query (${selective.join(', ')}). Plans are of one example request per query (parameters below); other parameter values can plan differently.`,
    '',
    '| # | HTTP | SQL statements | server ms (logged) | EXPLAIN ANALYZE ms | Seq Scans / scans > 50k rows on fhir_resource, search_* | Flag |',
    '|---|--:|--:|--:|--:|---|:-:|',
  ];
  for (const p of plans) {
    const logged = p.statements.reduce((n, s) => n + s.loggedMs, 0);
    const exec = p.statements.reduce((n, s) => n + (s.executionMs ?? 0), 0);
    const scans = [...new Set(p.statements.flatMap(scanNotes))];
    out.push(`| ${p.id} | ${p.httpStatus} | ${p.statements.length} | ${num(logged)} | ${num(exec)} | ${cell(scans.join('; ')) || '–'} | ${p.flagged.length ? 'FLAG' : ''} |`);
  }
  const background = [...new Set(plans.flatMap((p) => p.background.map((b) => b.sql.replace(/\s+/g, ' '))))];
  if (background.length) out.push('', `Not counted above: background statements the server ran on its own timers during the capture (also seen while idle): ${background.map((b) => `\`${b.slice(0, 160)}\``).join('; ')}.`);
  for (const p of plans) {
    out.push('', `#### q${p.id}: \`${decodeURIComponent(p.path)}\` (HTTP ${p.httpStatus})`);
    if (!p.statements.length) out.push('', '_No SELECT captured._');
    p.statements.forEach((s, i) => {
      out.push('', `Statement ${i + 1} (server ${num(s.loggedMs)} ms), parameters: \`${JSON.stringify(s.params).slice(0, 600)}\``, '', '```sql', s.sql, '```', '', '```text', s.error ? `EXPLAIN failed: ${s.error}` : s.plan, '```');
    });
  }
  return out.join('\n');
}

export function reportMarkdown(r: SearchResults): string {
  const o = r.options;
  const parts = [
    `## CareBridge search benchmark, ${r.startedAt}`,
    '',
    machineMarkdown(r.machine),
    '',
    datasetMarkdown(r),
    '',
    `Settings: ${o.warmupSeconds} s warm-up + ${o.seconds} s measured per query and client count; clients ${o.concurrency.join(', ')}; server DB pool ${o.dbPoolSize}; requests sent with \`Prefer: handling=strict\` (unsupported parameters answer 400 instead of being ignored).`,
    '',
    '### Queries',
    '',
    queriesMarkdown(r),
    '',
    `Server process max RSS: ${num(r.server.maxRssMiBQueries)} MiB during the queries (${r.server.rssSamples} samples)${r.server.maxRssMiBLoad !== undefined ? `, ${num(r.server.maxRssMiBLoad)} MiB during the load` : ''}.${r.server.memoryAfterQueries ? ` Server's own gauges after the queries (MiB): ${Object.entries(r.server.memoryAfterQueries).map(([k, v]) => `${k.replace(/_mib$/, '')} ${v}`).join(', ')}.` : ''}`,
    '',
    '### Targets',
    '',
    ['| Target | Measured | Result |', '|---|---|:-:|', ...r.targets.map((c) => `| ${cell(c.target)} | ${cell(c.measured)} | ${ok(c.pass)} |`)].join('\n'),
    '',
  ];
  const mismatches = r.queries.filter((q) => q.probe.mismatches.length);
  if (mismatches.length) {
    parts.push('### Answers that looked wrong (or were refused)', '');
    for (const q of mismatches) for (const m of q.probe.mismatches) parts.push(`- q${q.id}: ${m}`);
    parts.push('');
  }
  if (r.plans) parts.push('### SQL plans (EXPLAIN ANALYZE, BUFFERS of the statements the server ran)', '', plansMarkdown(r.plans, r.queries.filter((q) => q.selective).map((q) => `q${q.id}`)), '');
  else if (r.explainError) parts.push('### SQL plans', '', `Not captured: ${r.explainError}`, '');
  return parts.join('\n');
}
