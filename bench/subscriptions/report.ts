/**
 * The subscription benchmark's markdown report: the machine, one table per measurement, where
 * the latency went (from the engine's own tables), and the issue's three targets with pass/fail —
 * so whether the engine meets them is readable without the raw JSON. Also usable alone, to render
 * a saved run again: `node bench/subscriptions/report.ts bench/results/subscriptions-<time>.json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from '../lib/machine.ts';
import { machineMarkdown } from '../lib/report.ts';
import type { BacklogSummary, StageBreakdown } from './engine-state.ts';
import type { SubscriptionBenchOptions } from './options.ts';
import type { BurstRun, CostRun, DeliveryLatency, LatencyRun } from './scenarios.ts';
import { formatCores, formatLatency, formatNumber } from '../lib/format.ts';

export interface SubscriptionBenchResults {
  startedAt: string;
  machine: MachineInfo;
  options: Omit<SubscriptionBenchOptions, 'repoRoot' | 'resultsDir'>;
  latency: LatencyRun[];
  burst: BurstRun | undefined;
  cost: CostRun[];
  /** Deliveries to no open session (should be 0). */
  strayDeliveries: number;
  profiles: string[];
}

export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean | undefined;
}

export const TARGET_P99_MS = 100;
export const TARGET_DELIVERED_PER_SECOND = 1000;
export const TARGET_MAX_WRITE_DROP = 0.15;

const num = formatNumber;
const ok = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'PASS' : 'FAIL');
const pct = (r: number) => `${r >= 0 ? '+' : ''}${(r * 100).toFixed(1)} %`;
const cpuText = formatCores;
/** A latency that may be "not delivered within the drain period". */
const late = formatLatency;

function latencyTable(runs: readonly LatencyRun[], drainSeconds: number): string {
  const head = [
    '| Scenario | Subs | Matches / write | Writes/s (target) | Write p99 ms | Notifications/s offered | Delivered/s in window | Delivered / expected | p50 ms | p95 ms | p99 ms | Max ms | Dup. | Max backlog: events / notifications | CPU cores: server / PG / bench |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const rows = runs.map((r) => {
    const l = r.latencyMs;
    return `| ${r.name} | ${r.subscriptions} | ${num(r.matchesPerWrite, 0)} | ${num(r.writes.achievedRate, 1)} (${num(r.targetWriteRate, 0)}) | ${num(r.writes.latencyMs.p99)} | ${num(r.offeredPerSecond)} | ${num(r.deliveredPerSecond)} | ${r.counts.delivered.toLocaleString('en-US')} / ${r.counts.expected.toLocaleString('en-US')} | ${late(l.p50, drainSeconds)} | ${late(l.p95, drainSeconds)} | ${late(l.p99, drainSeconds)} | ${late(l.max, drainSeconds)} | ${r.counts.duplicates} | ${r.backlog.maxUndispatchedEvents.toLocaleString('en-US')} / ${r.backlog.maxPendingNotifications.toLocaleString('en-US')} | ${cpuText(r.cpu)} |`;
  });
  return [...head, ...rows].join('\n');
}

function trendLines(runs: readonly LatencyRun[], drainSeconds: number): string[] {
  return runs.map((r) => `- ${r.name}, p50 / p99 ms by write time (5 s buckets of the measured window): ${r.trend.map((b) => `${b.fromSecond}–${b.fromSecond + 5} s ${late(b.p50, drainSeconds)} / ${late(b.p99, drainSeconds)}`).join('; ')}`);
}

interface StageInput {
  name: string;
  stages: StageBreakdown;
  backlog: BacklogSummary;
  expected: number;
}

function stagesRow(r: StageInput): string {
  const t = (x: { p50: number; p99: number; max: number } | undefined) => (x ? `${num(x.p50)} / ${num(x.p99)} / ${num(x.max)}` : '–');
  const s = r.stages;
  const stored = s.delivered + s.pending;
  return `| ${r.name} | ${t(s.dispatchMs)} | ${t(s.deliveryMs)} | ${stored.toLocaleString('en-US')} / ${r.expected.toLocaleString('en-US')}${s.duplicateRows ? ' ²' : ''} | ${s.delivered.toLocaleString('en-US')} | ${s.pending.toLocaleString('en-US')} | ${s.retried} | ${s.dispatchPasses} in ${num(s.dispatchSpanSeconds, 1)} s | ${num(r.backlog.meanLockWaits, 1)} / ${r.backlog.maxLockWaits} |`;
}

function stagesNotes(inputs: readonly StageInput[]): string[] {
  const notes: string[] = [];
  for (const r of inputs) {
    const d = r.stages.duplicates;
    if (d) {
      const e = d.examples[0];
      const example = e ? ` E.g. event ${e.eventId} (transaction ${e.transactionId}, written ${e.occurredAt}) for ${e.subscriptions} subscription(s): ${e.copies.map((c) => `number ${c.eventNumber} by the pass started ${c.createdAt}`).join(', ')}. More in the JSON (stages.duplicates.examples).` : '';
      notes.push(`- ² ${r.name}: ${r.stages.duplicateRows.toLocaleString('en-US')} notification rows beyond one per (subscription, event): ${d.pairs.toLocaleString('en-US')} pairs stored more than once (up to ${d.maxCopies} copies) by ${d.dispatchPasses} dispatch passes — the dispatcher numbered the same events again.${example}`);
    }
    const top = r.backlog.lockWaiters[0];
    if (top) notes.push(`- ${r.name}: statement most often waiting on a lock (${top.samples} of ${r.backlog.samples.length} samples): \`${top.statement}…\``);
  }
  return notes;
}

function burstTable(b: BurstRun): string {
  return [
    '| Subs | Writes | Write s | Notifications delivered / expected | First write → last delivery s | Delivered/s overall | Delivered/s steady (10–90 %) | p50 ms | p99 ms | Dup. | Max backlog: events / notifications | CPU cores: server / PG / bench |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    `| ${b.subscriptions} | ${b.writes} | ${num(b.writeSeconds)} | ${b.counts.delivered.toLocaleString('en-US')} / ${b.counts.expected.toLocaleString('en-US')} | ${num(b.seconds)} | ${num(b.deliveredPerSecond)} | ${num(b.steadyPerSecond)} | ${num(b.latencyMs.p50)} | ${num(b.latencyMs.p99)} | ${b.counts.duplicates} | ${b.backlog.maxUndispatchedEvents.toLocaleString('en-US')} / ${b.backlog.maxPendingNotifications.toLocaleString('en-US')} | ${cpuText(b.cpu)} |`,
  ].join('\n');
}

function costNotes(runs: readonly CostRun[]): string[] {
  return runs.flatMap((r) => {
    const top = r.backlog.lockWaiters[0];
    return top ? [`- cost-${r.variant} round ${r.round}: sessions waiting on a lock mean ${num(r.backlog.meanLockWaits, 1)}, max ${r.backlog.maxLockWaits}; most often \`${top.statement}…\` (${top.samples} of ${r.backlog.samples.length} samples)`] : [];
  });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median creates/s of a variant over its rounds. */
export function medianThroughput(runs: readonly CostRun[], variant: CostRun['variant']): number | undefined {
  const xs = runs.filter((r) => r.variant === variant).map((r) => r.result.throughput);
  return xs.length ? median(xs) : undefined;
}

function costTable(runs: readonly CostRun[]): string {
  const none = medianThroughput(runs, 'none');
  const head = [
    '| Variant | Round | Subs | Matches / write | Creates/s | vs none (median) | p50 ms | p95 ms | p99 ms | Errors | Deliveries/s meanwhile | Backlog at end: events / notifications | CPU cores: server / PG / bench |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const rows = runs.map((r) => {
    const l = r.result.latencyMs;
    const vs = none && r.variant !== 'none' ? pct(r.result.throughput / none - 1) : '';
    return `| ${r.variant} | ${r.round} | ${r.subscriptions} | ${r.matchesPerWrite} | ${num(r.result.throughput)} | ${vs} | ${num(l.p50)} | ${num(l.p95)} | ${num(l.p99)} | ${r.result.errors} | ${num(r.deliveredPerSecond)} | ${r.backlog.endUndispatchedEvents.toLocaleString('en-US')} / ${r.backlog.endPendingNotifications.toLocaleString('en-US')} | ${cpuText(r.cpu)} |`;
  });
  const medians = (['off', 'none', 'nomatch', 'all'] as const).flatMap((v) => {
    const m = medianThroughput(runs, v);
    return m === undefined ? [] : [`${v} ${num(m)}`];
  });
  return [...head, ...rows, '', `Median creates/s over the rounds: ${medians.join(', ')}.`].join('\n');
}

function p99Check(run: LatencyRun | undefined, label: string): TargetCheck {
  if (!run) return { target: label, measured: 'not run', pass: undefined };
  const l: DeliveryLatency = run.latencyMs;
  const missing = run.counts.missing ? `; ${run.counts.missing.toLocaleString('en-US')} of ${run.counts.expected.toLocaleString('en-US')} not delivered within ${num(run.drainSeconds, 0)} s after the writes stopped` : '';
  return { target: label, measured: `p50 ${Number.isFinite(l.p50) ? `${num(l.p50)} ms` : 'not delivered'}, p99 ${Number.isFinite(l.p99) ? `${num(l.p99)} ms` : 'not delivered'}${missing}`, pass: Number.isFinite(l.p99) && l.p99 < TARGET_P99_MS };
}

/** Seconds of writes the dispatcher may be behind at the end of a write-cost run and still count as keeping up. */
const MAX_DISPATCH_LAG_SECONDS = 5;

/** Whether the engine kept up during a write-cost run (a short dispatch lag at the end is normal). */
export function keptUp(run: CostRun): boolean {
  return run.backlog.endUndispatchedEvents <= MAX_DISPATCH_LAG_SECONDS * run.result.throughput;
}

export function checkTargets(r: Pick<SubscriptionBenchResults, 'latency' | 'burst' | 'cost' | 'options'>): TargetCheck[] {
  const o = r.options;
  const checks: TargetCheck[] = [];
  const all = r.latency.find((x) => x.name === 'latency-all');
  const spread = r.latency.find((x) => x.name === 'latency-spread');
  checks.push(p99Check(all, `p99 event → delivery < ${TARGET_P99_MS} ms: ${o.subscriptions} subscriptions, ${o.writeRate} writes/s, each write matching all (${num(o.subscriptions * o.writeRate, 0)} notifications/s)`));
  checks.push(p99Check(spread, `p99 event → delivery < ${TARGET_P99_MS} ms: ${o.subscriptions} subscriptions over ${o.spreadCodes} codes, ${o.writeRate} writes/s (${num((o.subscriptions / o.spreadCodes) * o.writeRate, 0)} notifications/s)`));
  const sustained = `≥ ${TARGET_DELIVERED_PER_SECOND.toLocaleString('en-US')} notifications/s delivered while ${o.writeRate} writes/s continue (latency-all, ${num(o.subscriptions * o.writeRate, 0)}/s offered)`;
  checks.push(all ? { target: sustained, measured: `${num(all.deliveredPerSecond)}/s`, pass: all.deliveredPerSecond >= TARGET_DELIVERED_PER_SECOND } : { target: sustained, measured: 'not run', pass: undefined });
  const drain = `≥ ${TARGET_DELIVERED_PER_SECOND.toLocaleString('en-US')} notifications/s delivered draining a queue (burst of ${o.burstWrites} writes × ${o.subscriptions} subscriptions, steady rate)`;
  checks.push(
    r.burst
      ? { target: drain, measured: `${num(r.burst.steadyPerSecond)}/s steady, ${num(r.burst.deliveredPerSecond)}/s first write → last delivery${r.burst.complete ? '' : ` (incomplete: ${r.burst.counts.missing} missing)`}`, pass: r.burst.steadyPerSecond >= TARGET_DELIVERED_PER_SECOND }
      : { target: drain, measured: 'not run', pass: undefined },
  );
  const none = medianThroughput(r.cost, 'none');
  for (const variant of ['nomatch', 'all'] as const) {
    const runs = r.cost.filter((x) => x.variant === variant);
    const value = medianThroughput(r.cost, variant);
    if (variant === 'all' && !runs.length) continue; // a stress run, not part of the default
    const label = `Write throughput drops < ${TARGET_MAX_WRITE_DROP * 100} % with ${o.subscriptions} subscriptions vs 0 (${o.writeClients} clients, median of ${runs.length} round(s); ${variant === 'nomatch' ? 'subscriptions match no write' : 'every write matches all of them'})`;
    if (value === undefined || none === undefined) {
      checks.push({ target: label, measured: 'not run', pass: undefined });
      continue;
    }
    const drop = 1 - value / none;
    const perRound = runs.map((x) => `${(100 * (1 - x.result.throughput / none)).toFixed(1)} %`).join(', ');
    const measured = `${num(none)} → ${num(value)} creates/s: ${drop >= 0 ? `${(drop * 100).toFixed(1)} % lower` : `${(-drop * 100).toFixed(1)} % higher`} (rounds: ${perRound})`;
    const lagging = runs.filter((x) => !keptUp(x));
    if (lagging.length) {
      const worst = lagging[0] as CostRun;
      const behind = `${worst.backlog.endUndispatchedEvents.toLocaleString('en-US')} events (${num(worst.backlog.endUndispatchedEvents / worst.result.throughput, 0)} s of writes) undispatched at the end${worst.matchesPerWrite ? `, ${num(worst.deliveredPerSecond)} deliveries/s` : ''}`;
      checks.push({ target: label, measured: `${measured} — not a valid measurement: the engine did not keep up (${behind}), so it cost the writes little because it was doing little`, pass: undefined });
      continue;
    }
    checks.push({ target: label, measured, pass: drop < TARGET_MAX_WRITE_DROP && runs.every((x) => !x.result.errors) });
  }
  return checks;
}

export function reportMarkdown(r: SubscriptionBenchResults): string {
  const o = r.options;
  const parts = [
    `## CareBridge subscription benchmark, ${r.startedAt}`,
    '',
    machineMarkdown(r.machine),
    '',
    `Settings: ${o.subscriptions} rest-hook subscriptions (payload application/fhir+json), receiver in the bench process; latency runs ${o.writeRate} writes/s open loop, ${o.warmupSeconds} s warm-up + ${o.seconds} s measured, drain ≤ ${o.drainSeconds} s; burst ${o.burstWrites} writes by ${o.writeClients} clients; write cost ${o.writeClients} closed-loop clients, ${o.warmupSeconds} s + ${o.seconds} s, ${o.costRounds} round(s) of ${o.costVariants.join(', ')}. Server: SUBSCRIPTION_POLL_MS=${o.pollMs}, SUBSCRIPTION_MAX_IN_FLIGHT=${o.maxInFlight}, DB_POOL_SIZE=${o.dbPoolSize}; a fresh server (empty embedded PostgreSQL) for every run.`,
    '',
  ];
  if (r.latency.length) {
    parts.push('### Event → delivery latency', '', latencyTable(r.latency, o.drainSeconds), '');
    parts.push('Latency = subscriber received the PUT − the write\'s 201 response received. ¹ not delivered within the drain period: counted as infinitely late.', '');
    parts.push(...trendLines(r.latency, o.drainSeconds), '');
  }
  if (r.burst) parts.push('### Delivery throughput (burst, each write matching every subscription)', '', burstTable(r.burst), '');
  if (r.cost.length) parts.push('### Write throughput with and without subscriptions (Observation creates, closed loop)', '', costTable(r.cost), '', ...costNotes(r.cost), '');
  const stageInputs: StageInput[] = [
    ...r.latency.map((l) => ({ name: l.name, stages: l.stages, backlog: l.backlog, expected: l.counts.expected })),
    ...(r.burst ? [{ name: 'burst', stages: r.burst.stages, backlog: r.burst.backlog, expected: r.burst.counts.expected }] : []),
  ];
  if (stageInputs.length) {
    parts.push(
      '### Where the latency goes (server tables, measured writes only)',
      '',
      '| Scenario | Write → its dispatch pass starts ms (p50 / p99 / max) | Dispatch pass start → delivered ms (p50 / p99 / max) | Notifications stored / expected | Delivered | Still pending | Retried | Dispatch passes | Sessions waiting on a lock (mean / max) |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
      ...stageInputs.map(stagesRow),
      '',
      ...stagesNotes(stageInputs),
      '',
    );
  }
  parts.push('### Targets', '', '| Target | Measured | Result |', '|---|---|:-:|', ...checkTargets(r).map((c) => `| ${c.target} | ${c.measured} | ${ok(c.pass)} |`), '');
  if (r.strayDeliveries) parts.push(`Deliveries to no open session: ${r.strayDeliveries}.`, '');
  if (r.profiles.length) parts.push('### CPU profiles of the server', '', ...r.profiles.flatMap((p) => [p, '']));
  return parts.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/subscriptions/report.ts <subscriptions-….json>\n');
    process.exit(2);
  }
  // Latencies of undelivered notifications were written as null (JSON has no Infinity).
  const results = JSON.parse(fs.readFileSync(file, 'utf8'), (_key, value: unknown) => (value === null ? Number.POSITIVE_INFINITY : value)) as SubscriptionBenchResults;
  process.stdout.write(reportMarkdown({ ...results, burst: typeof results.burst === 'object' ? results.burst : undefined }));
}
