/**
 * The follow-up benchmark's markdown report: the machine and server settings, discharge →
 * CarePlan latency per phase (baseline without other load, then under load) with their ratio, what
 * the other load achieved (so a reader sees it really ran), where the time went, and issue 6's
 * target with PASS/FAIL. Also usable alone, to render a saved run again:
 * `node bench/follow-up/report.ts bench/results/follow-up-<time>.json`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from '../lib/machine.ts';
import type { StageBreakdown } from '../subscriptions/engine-state.ts';
import type { FollowUpBenchOptions } from './options.ts';
import type { PhaseResult } from './phase.ts';
import type { PrimeResult } from './prime.ts';
import type { SeedResult } from './seed.ts';
import { formatCores, formatLatency, formatNumber } from '../lib/format.ts';

export const TARGET_P99_MS = 2000;
export const TARGET_DISCHARGE_RATE = 20;
/** The other load the target is stated with: the defaults of BENCH_ORU_RATE, BENCH_OBSERVATION_RATE, BENCH_SEARCH_RATE. */
export const TARGET_OTHER_LOAD = { oruRate: 10, observationRate: 30, searchRate: 5 };

export interface FollowUpBenchResults {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: Omit<FollowUpBenchOptions, 'repoRoot' | 'resultsDir'>;
  /** The server's settings that matter here, as passed (or its defaults). */
  server: { env: Record<string, string>; subscriptionPollMs: string; rssMaxMiB: number | undefined; /** The folder the server ran from when not this checkout (BENCH_SERVER_DIR). */ codeDir: string | undefined };
  seed: Omit<SeedResult, 'patients'> & { patients: number };
  subscription: { id: string; activationMs: number };
  /** The untimed discharges before the phases (undefined: BENCH_PRIME_DISCHARGES=0). */
  prime: PrimeResult | undefined;
  phases: PhaseResult[];
  /** Before each phase: the wait for the engine's queues to empty (at most 2 min) and what was still pending. */
  quiet: Array<{ before: string; seconds: number; pending: number }>;
  receiver: { deliveries: number; carePlans: number; repeats: number; stray: number; firstStray: string | undefined };
  messageLog: Array<{ type: string; status: string; count: number }>;
  /** Server log lines at warn or above among the last 100 it printed: count, and the distinct messages. */
  serverWarnings: { lines: number; messages: string[] };
}

export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean | undefined;
}

const num = formatNumber;
const ok = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? '**PASS**' : '**FAIL**');
/** A plan latency; missing plans make it "> drain". JSON stores +Infinity as null. */
const late = formatLatency;
const triple = (x: { p50: number; p99: number; max: number } | undefined) => (x ? `${num(x.p50)} / ${num(x.p99)} / ${num(x.max)}` : '–');

export function checkTargets(r: Pick<FollowUpBenchResults, 'phases' | 'options'>): TargetCheck[] {
  const loaded = r.phases.find((p) => p.name === 'under load');
  const o = r.options;
  const targetLoad = o.dischargeRate >= TARGET_DISCHARGE_RATE && o.oruRate >= TARGET_OTHER_LOAD.oruRate && o.observationRate >= TARGET_OTHER_LOAD.observationRate && o.searchRate >= TARGET_OTHER_LOAD.searchRate;
  if (!loaded) return [{ target: `p99 discharge → CarePlan < 2 s at ${TARGET_DISCHARGE_RATE} discharges/s with the other load running`, measured: 'not run', pass: undefined }];
  const d = loaded.discharges;
  // The offered rate must really have been offered: the open loop's slip stays small and the ACKs keep up.
  const rateHeld = d.ackedPerSecond >= 0.95 * o.dischargeRate && d.latenessMs.p99 < 1000;
  const p99 = loaded.latencyMs.p99 ?? Number.POSITIVE_INFINITY;
  const drain = o.drainSeconds;
  return [
    {
      target: `p99 discharge → CarePlan < 2 s at ${TARGET_DISCHARGE_RATE} discharges/s with the other load running (${TARGET_OTHER_LOAD.oruRate} ORU/s, ${TARGET_OTHER_LOAD.observationRate} home readings/s, ${TARGET_OTHER_LOAD.searchRate} reads/s)`,
      measured: `p99 ${Number.isFinite(p99) ? `${num(p99)} ms` : late(p99, drain)} at ${num(d.ackedPerSecond, 1)} discharges/s acknowledged (target ${num(o.dischargeRate, 0)}/s; schedule slip p99 ${num(d.latenessMs.p99)} ms); ${loaded.carePlans.received.toLocaleString('en-US')} / ${d.measured.toLocaleString('en-US')} plans${targetLoad ? '' : ' — rates below the target load, so not judged'}`,
      pass: targetLoad ? rateHeld && Number.isFinite(p99) && p99 < TARGET_P99_MS : undefined,
    },
  ];
}

function phaseTable(phases: readonly PhaseResult[], drain: number): string {
  const head = [
    '| Phase | Other load | Discharges/s target / acknowledged | Measured discharges | ACK errors | CarePlans received / missing | p50 ms | p95 ms | p99 ms | max ms | A03 ACK p50 / p99 ms | Schedule slip p99 / max ms | Drain s | Server RSS max MiB | CPU cores server / PG / bench |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const rows = phases.map((p) => {
    const d = p.discharges;
    const l = p.latencyMs;
    const cpu = formatCores(p.cpu);
    return `| ${p.name} | ${p.otherLoad ? 'yes' : 'no'} | ${num(p.targetRate, 0)} / ${num(d.ackedPerSecond, 1)} | ${d.measured.toLocaleString('en-US')} (+${d.warmup} warm-up) | ${d.ackErrors} | ${p.carePlans.received.toLocaleString('en-US')} / ${p.carePlans.missing} | ${late(l.p50, drain)} | ${late(l.p95, drain)} | **${late(l.p99, drain)}** | ${late(l.max, drain)} | ${num(d.ackLatencyMs.p50)} / ${num(d.ackLatencyMs.p99)} | ${num(d.latenessMs.p99)} / ${num(d.latenessMs.max)} | ${num(p.carePlans.drainSeconds, 1)} | ${num(p.rssMaxMiB, 0)} | ${cpu} |`;
  });
  return [...head, ...rows].join('\n');
}

function otherTable(phase: PhaseResult): string {
  const head = ['| Load | Target /s | Achieved /s | Sent in window | Errors | p50 ms | p99 ms | max ms | Schedule slip p99 ms | Skipped (no patient yet) |', '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|'];
  const rows = phase.other.map((x) => {
    const s = x.stats;
    return `| ${x.name} | ${num(x.targetRate, 1)} | ${num(s.achievedRate, 1)} | ${s.offered.toLocaleString('en-US')} | ${s.errors}${s.firstError ? ` (first: ${s.firstError.slice(0, 120)})` : ''} | ${num(s.latencyMs.p50)} | ${num(s.latencyMs.p99)} | ${num(s.latencyMs.max)} | ${num(s.latenessMs.p99)} | ${s.skipped} |`;
  });
  return [...head, ...rows].join('\n');
}

function stagesRow(name: string, s: StageBreakdown | undefined, c: StageBreakdown | undefined): string {
  const counts = (x: StageBreakdown | undefined) => (x ? `${x.delivered} / ${x.pending}${x.retried ? `, ${x.retried} retried` : ''}` : '–');
  return `| ${name} | ${triple(s?.dispatchMs)} | ${triple(s?.deliveryMs)} | ${counts(s)} | ${triple(c?.dispatchMs)} | ${triple(c?.deliveryMs)} | ${counts(c)} |`;
}

/** Per subscriber: stored and handled per second over the phase, most pending in a sample, pending at the end. */
function queueTable(phases: readonly PhaseResult[], benchSubscription: string): string {
  const head = ['| Phase | Subscriber | Notifications stored /s | Handled /s | Most pending | Pending at the end |', '|---|---|--:|--:|--:|--:|'];
  const rows = phases.flatMap((p) => {
    const q = p.queues;
    const ids = [...new Set([...Object.keys(q.storedPerSecond ?? {}), ...Object.keys(q.maxPending)])].sort();
    return ids.map((id) => `| ${p.name} | ${id === benchSubscription ? 'bench CarePlan subscription' : id.replace(/^internal-/, '')} | ${num(q.storedPerSecond?.[id])} | ${num(q.handledPerSecond?.[id])} | ${(q.maxPending[id] ?? 0).toLocaleString('en-US')} | ${(q.endPending[id] ?? 0).toLocaleString('en-US')} |`);
  });
  return [...head, ...rows].join('\n');
}

export function reportMarkdown(r: FollowUpBenchResults): string {
  const m = r.machine;
  const o = r.options;
  const drain = o.drainSeconds;
  const base = r.phases.find((p) => p.name === 'baseline');
  const loaded = r.phases.find((p) => p.name === 'under load');
  const lines: string[] = [
    '## Discharge → CarePlan latency (issue 6)',
    '',
    `Run ${r.startedAt} → ${r.finishedAt}. Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; ${m.postgres?.replace(/ on .*$/, '') ?? 'PostgreSQL ?'}; load average at start ${m.loadAverage.join(' / ')}; code ${m.source}.`,
    '',
    `Server: \`${Object.entries(r.server.env).map(([k, v]) => `${k}=${v}`).join(' ')}\`, SUBSCRIPTION_POLL_MS ${r.server.subscriptionPollMs}, DB_POOL_SIZE ${o.dbPoolSize}${r.server.codeDir ? `, server code from ${r.server.codeDir}` : ''}. Discharges over ${o.mllpConnections} MLLP connections, open loop; drain limit ${drain} s.`,
    '',
    `Seeding (untimed): ${r.seed.admissions.count.toLocaleString('en-US')} ADT^A01 admissions by 8 connections in ${num(r.seed.admissions.seconds, 1)} s = ${num(r.seed.admissions.perSecond, 1)}/s (ACK p99 ${num(r.seed.admissions.p99Ms)} ms); ${r.seed.lookups.count.toLocaleString('en-US')} Patient id look-ups in ${num(r.seed.lookups.seconds, 1)} s. CarePlan subscription active after ${num(r.subscription.activationMs, 0)} ms.`,
    '',
    r.prime
      ? `Priming (untimed): ${r.prime.discharges} discharges of other patients (${r.prime.errors} errors) in ${num(r.prime.sendSeconds, 1)} s, their follow-ups done ${num(r.prime.followUpSeconds, 1)} s later (${r.prime.followUpServiceMs ? `p50 ${num(r.prime.followUpServiceMs.p50)} / mean ${num(r.prime.followUpServiceMs.mean)} ms each, on the seeding's statistics` : 'no timing'}); then ANALYZE.`
      : 'No priming (BENCH_PRIME_DISCHARGES=0): the first phase runs on statistics gathered after the admissions only, until autovacuum analyses the tables.',
    '',
    '### Latency: first CarePlan notification received − ADT^A03 written',
    '',
    phaseTable(r.phases, drain),
    '',
    '¹ At least that percentile of discharges had no CarePlan when the drain limit ran out (missing plans count as infinitely late).',
  ];
  if (base && loaded) {
    const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
    lines.push('', `Under load vs baseline (same run): p50 ${ratio(loaded.latencyMs.p50, base.latencyMs.p50)}, p99 ${ratio(loaded.latencyMs.p99, base.latencyMs.p99)}, A03 ACK p99 ${ratio(loaded.discharges.ackLatencyMs.p99, base.discharges.ackLatencyMs.p99)}.`);
  }
  for (const p of r.phases) {
    lines.push(`- ${p.name}, p50 / p99 ms by due time (10 s buckets): ${p.trend.map((b) => `${b.fromSecond}–${b.fromSecond + 10} s ${late(b.p50, drain)} / ${late(b.p99, drain)}`).join('; ')}`);
    if (p.carePlans.missingExamples.length) lines.push(`  - no plan for e.g. ${p.carePlans.missingExamples.map((x) => `${x.mrn} (Patient/${x.patientId}, ACK ${x.ack.slice(0, 100)})`).join(', ')}`);
    if (p.discharges.firstAckError) lines.push(`  - first ACK error: ${p.discharges.firstAckError.slice(0, 300)}`);
  }
  if (loaded?.other.length) lines.push('', '### The other load (phase under load, from the measured window to the end of the drain)', '', otherTable(loaded));
  lines.push(
    '',
    '### Where the time went (server tables)',
    '',
    '| Phase | Encounter written → follow-up notification stored, p50 / p99 / max ms | stored → follow-up done (risk, plan, tasks committed), p50 / p99 / max ms | follow-up notifications done / pending | CarePlan written → notification stored | stored → delivered to the bench | CarePlan notifications delivered / pending |',
    '|---|--:|--:|--:|--:|--:|--:|',
    ...r.phases.map((p) => stagesRow(p.name, p.followUpStages, p.carePlanStages)),
    '',
    ...r.phases.flatMap((p) => {
      const s = p.followUpServiceMs;
      return s ? [`- ${p.name}: the follow-up subscriber recorded a discharge done every p50 ${num(s.p50)} / p90 ${num(s.p90)} / p99 ${num(s.p99)} ms once it had one queued (mean ${num(s.mean)} ms over ${s.events} discharges: ${num(1000 / s.mean, 1)} discharges/s while busy; it handles up to 4 encounters at once, so one discharge may take longer than the gap).`] : [];
    }),
    '',
    'The engine\'s subscribers in each phase. Stored/s and handled/s are counted while the discharges were being sent (warm-up included); pending is sampled each second until the phase ended. An internal subscriber handles up to 4 order keys (encounters, patients) at once, each key in order; handled/s below stored/s means a growing queue.',
    '',
    queueTable(r.phases, r.subscription.id),
    '',
    `Before each phase the bench waited for the engine's queues to empty: ${(r.quiet ?? []).map((q) => `before the ${q.before} ${num(q.seconds, 1)} s${q.pending ? ` (gave up, ${q.pending.toLocaleString('en-US')} still pending)` : ''}`).join('; ') || 'n/a'}.`,
    `Message log at the end: ${r.messageLog.map((x) => `${x.type} ${x.status} ${x.count.toLocaleString('en-US')}`).join(', ') || 'n/a'}.`,
    `Bench receiver: ${r.receiver.deliveries.toLocaleString('en-US')} CarePlan deliveries, ${r.receiver.carePlans.toLocaleString('en-US')} distinct plans, ${r.receiver.repeats} repeats (plan updated or redelivered), ${r.receiver.stray} stray${r.receiver.firstStray ? ` (first: ${r.receiver.firstStray})` : ''}.`,
    `Server warnings (warn and above, among its last 100 output lines): ${r.serverWarnings.lines}${r.serverWarnings.messages.length ? ` — ${r.serverWarnings.messages.map((x) => `"${x}"`).join('; ')}` : ''}.`,
    '',
    '### Target',
    '',
    '| Target | Measured | |',
    '|---|---|---|',
    ...checkTargets(r).map((c) => `| ${c.target} | ${c.measured} | ${ok(c.pass)} |`),
  );
  return `${lines.join('\n')}\n`;
}

// Rendering a saved run: `node bench/follow-up/report.ts <results.json>`.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/follow-up/report.ts bench/results/follow-up-<time>.json\n');
    process.exit(2);
  }
  process.stdout.write(reportMarkdown(JSON.parse(fs.readFileSync(file, 'utf8')) as FollowUpBenchResults));
}
