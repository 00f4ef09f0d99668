/**
 * The three measurements the subscription targets ask for, each against a server that has just
 * been started (so no scenario inherits another's backlog):
 *
 * - latency: open-loop Observation writes at a fixed rate (a write is sent on schedule whether or
 *   not earlier ones have finished, as independent devices and systems would) with the
 *   subscriptions active; each delivery is matched to its write by the Observation id in the PUT
 *   url. Latency = delivery received − write response received (the write is committed before the
 *   server answers, so this is commit → subscriber, plus the response's trip back to the writer).
 *   Notifications still undelivered when the drain period ends count as infinitely late in the
 *   percentiles, so a p99 is never flattered by dropping the slow ones.
 * - burst: writes as fast as `writeClients` closed-loop clients can, each matching every
 *   subscription, then the rate at which the engine delivers the resulting queue.
 * - write cost: closed-loop Observation creates with and without subscriptions.
 */
import type pg from 'pg';
import { sleep } from '../lib/child-process.ts';
import type { HttpClient } from '../lib/http-client.ts';
import { latencyWithMissing, percentile, runClosedLoop, summarize } from '../lib/load.ts';
import type { LatencySummary, LatencyWithMissing, LoadResult } from '../lib/load.ts';
import type { ServerProcess } from '../lib/server-process.ts';
import { cpuUse, readCpuTimes } from './cpu.ts';
import type { CpuTimes, CpuUse } from './cpu.ts';
import { BacklogSampler, stageBreakdown } from './engine-state.ts';
import type { BacklogSummary, StageBreakdown } from './engine-state.ts';
import { CODES, createObservation, createSubscriptions, NEVER_WRITTEN, waitActive } from './fhir.ts';
import type { BenchSubscription, VitalSign } from './fhir.ts';
import type { CostVariant, SubscriptionBenchOptions } from './options.ts';
import type { HookReceiver, Receipt } from './receiver.ts';

export interface ServerContext {
  server: ServerProcess;
  client: HttpClient;
  db: pg.Pool;
  receiver: HookReceiver;
  options: SubscriptionBenchOptions;
  log: (message: string) => void;
}

interface WriteRecord {
  sign: VitalSign;
  /** performance.now(): scheduled send, actual send, response received. */
  at: number;
  sent: number;
  done: number;
  id: string | undefined;
  error: string | undefined;
}

/** Percentiles where undelivered notifications count as +Infinity (serialised as null). */
export type DeliveryLatency = LatencyWithMissing;

export interface NotificationCounts {
  /** Notifications the measured writes should cause (sum of matching subscriptions). */
  expected: number;
  /** Distinct (subscription, write) pairs received. */
  delivered: number;
  missing: number;
  /** The same (subscription, write) received again (at-least-once redelivery). */
  duplicates: number;
  /** Received by a subscription whose criteria the write does not match. */
  misrouted: number;
}

export interface LatencyRun {
  name: 'latency-all' | 'latency-spread';
  subscriptions: number;
  codes: number;
  matchesPerWrite: number;
  targetWriteRate: number;
  seconds: number;
  warmupSeconds: number;
  activationMs: number;
  writes: { measured: number; errors: number; firstError: string | undefined; achievedRate: number; latencyMs: LatencySummary };
  /** Notifications per second the measured writes ask for. */
  offeredPerSecond: number;
  /** Deliveries received (any write of this run) per second inside the measured window. */
  deliveredPerSecond: number;
  counts: NotificationCounts;
  /** Seconds after the last write until every notification arrived (or the drain limit). */
  drainSeconds: number;
  complete: boolean;
  latencyMs: DeliveryLatency;
  /** Delivery received − write sent. */
  latencyFromSendMs: DeliveryLatency;
  /** Per 5 s of the measured window, by write time: how latency develops (grows = the engine falls behind). */
  trend: Array<{ fromSecond: number; p50: number; p99: number }>;
  backlog: BacklogSummary;
  stages: StageBreakdown;
  cpu: CpuUse;
}

export interface BurstRun {
  subscriptions: number;
  writes: number;
  writeErrors: number;
  writeSeconds: number;
  counts: NotificationCounts;
  /** First write sent → last delivery received. */
  seconds: number;
  /** Delivered / seconds. */
  deliveredPerSecond: number;
  /** Between the 10th and the 90th percentile of receipt times: the engine's steady rate. */
  steadyPerSecond: number;
  complete: boolean;
  latencyMs: DeliveryLatency;
  backlog: BacklogSummary;
  stages: StageBreakdown;
  cpu: CpuUse;
}

export interface CostRun {
  variant: CostVariant;
  round: number;
  subscriptions: number;
  matchesPerWrite: number;
  result: LoadResult;
  /** Deliveries received per second during the measured window. */
  deliveredPerSecond: number;
  backlog: BacklogSummary;
  cpu: CpuUse;
}

const IDLE_GIVE_UP_MS = 10_000;

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '∞');

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** How many subscriptions of the set each code has. */
function matchCounts(subs: readonly BenchSubscription[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of subs) m.set(s.code, (m.get(s.code) ?? 0) + 1);
  return m;
}

function startWrite(client: HttpClient, sign: VitalSign, at: number, writes: WriteRecord[]): Promise<void> {
  const w: WriteRecord = { sign, at, sent: performance.now(), done: Number.NaN, id: undefined, error: undefined };
  writes.push(w);
  return createObservation(client, sign).then(
    (id) => {
      w.id = id;
      w.done = performance.now();
    },
    (err: unknown) => {
      w.error = describe(err);
      w.done = performance.now();
    },
  );
}

/** Sends `rate` writes per second for `totalMs`, on schedule (open loop); resolves when every write has answered. */
async function openLoopWrites(client: HttpClient, rate: number, totalMs: number, signOf: (i: number) => VitalSign): Promise<{ writes: WriteRecord[]; start: number }> {
  const start = performance.now() + 10;
  const total = Math.max(1, Math.round((rate * totalMs) / 1000));
  const writes: WriteRecord[] = [];
  const running: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const at = start + (i * 1000) / rate;
    const wait = at - performance.now();
    if (wait > 0.5) await sleep(wait);
    running.push(startWrite(client, signOf(i), at, writes));
  }
  await Promise.all(running);
  return { writes, start };
}

/** `count` writes by `clients` closed-loop clients, as fast as the server answers. */
async function closedLoopWrites(client: HttpClient, count: number, clients: number, sign: VitalSign): Promise<WriteRecord[]> {
  const writes: WriteRecord[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(clients, count) }, async () => {
    while (next < count) {
      next++;
      await startWrite(client, sign, performance.now(), writes);
    }
  }));
  return writes;
}

/**
 * Waits until every (subscription, write) pair of `measured` has been received, the deadline
 * passes, or nothing arrives for IDLE_GIVE_UP_MS. Returns when it stopped and whether all arrived.
 */
async function waitForDeliveries(receiver: HookReceiver, tag: string, measured: ReadonlyMap<string, WriteRecord>, expected: number, deadline: number, log: (m: string) => void): Promise<{ at: number; complete: boolean }> {
  const seen = new Set<string>();
  let scanned = 0;
  let lastArrival = performance.now();
  let lastLog = performance.now();
  for (;;) {
    const receipts = receiver.receipts(tag);
    for (; scanned < receipts.length; scanned++) {
      const r = receipts[scanned] as Receipt;
      lastArrival = r.t;
      if (measured.has(r.id)) seen.add(`${r.sub}|${r.id}`);
    }
    const now = performance.now();
    if (seen.size >= expected) return { at: now, complete: true };
    if (now >= deadline || now - lastArrival > IDLE_GIVE_UP_MS) return { at: now, complete: false };
    if (now - lastLog > 5_000) {
      log(`    waiting for deliveries: ${seen.size}/${expected}`);
      lastLog = now;
    }
    await sleep(50);
  }
}

/** Joins receipts to writes: counts, and per measured write the latencies of its deliveries. */
function analyse(receipts: readonly Receipt[], writes: readonly WriteRecord[], measured: ReadonlySet<WriteRecord>, subs: readonly BenchSubscription[]) {
  const byId = new Map<string, WriteRecord>();
  for (const w of writes) if (w.id) byId.set(w.id, w);
  const codeOfSub = new Map(subs.map((s) => [s.n, s.code]));
  const matches = matchCounts(subs);
  const seen = new Set<string>();
  const perWrite = new Map<WriteRecord, { fromDone: number[]; fromSend: number[] }>();
  let duplicates = 0;
  let misrouted = 0;
  for (const r of receipts) {
    const w = byId.get(r.id);
    if (!w) continue;
    if (codeOfSub.get(r.sub) !== w.sign.code) misrouted++;
    const key = `${r.sub}|${r.id}`;
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    if (!measured.has(w)) continue;
    const entry = perWrite.get(w) ?? { fromDone: [], fromSend: [] };
    entry.fromDone.push(r.t - w.done);
    entry.fromSend.push(r.t - w.sent);
    perWrite.set(w, entry);
  }
  let expected = 0;
  const fromDone: number[] = [];
  const fromSend: number[] = [];
  for (const w of measured) {
    expected += matches.get(w.sign.code) ?? 0;
    const entry = perWrite.get(w);
    if (entry) {
      fromDone.push(...entry.fromDone);
      fromSend.push(...entry.fromSend);
    }
  }
  const missing = Math.max(0, expected - fromDone.length);
  const counts: NotificationCounts = { expected, delivered: fromDone.length, missing, duplicates, misrouted };
  const lateOf = (w: WriteRecord) => {
    const entry = perWrite.get(w);
    return { delivered: entry?.fromDone ?? [], missing: Math.max(0, (matches.get(w.sign.code) ?? 0) - (entry?.fromDone.length ?? 0)) };
  };
  return { counts, latencyMs: latencyWithMissing(fromDone, missing), latencyFromSendMs: latencyWithMissing(fromSend, missing), lateOf };
}

function trendOf(measured: readonly WriteRecord[], measureStart: number, lateOf: (w: WriteRecord) => { delivered: number[]; missing: number }): LatencyRun['trend'] {
  const buckets = new Map<number, { delivered: number[]; missing: number }>();
  for (const w of measured) {
    const b = Math.floor((w.at - measureStart) / 5000) * 5;
    const bucket = buckets.get(b) ?? { delivered: [], missing: 0 };
    const late = lateOf(w);
    bucket.delivered.push(...late.delivered);
    bucket.missing += late.missing;
    buckets.set(b, bucket);
  }
  return [...buckets].sort((a, b) => a[0] - b[0]).map(([fromSecond, b]) => {
    const s = latencyWithMissing(b.delivered, b.missing);
    return { fromSecond, p50: s.p50, p99: s.p99 };
  });
}

async function activate(ctx: ServerContext, tag: string, count: number, codeOf: (n: number) => string): Promise<{ subs: BenchSubscription[]; activationMs: number }> {
  const hookBase = ctx.receiver.open(tag);
  const started = performance.now();
  const subs = await createSubscriptions(ctx.client, count, hookBase, codeOf);
  await waitActive(ctx.client, subs);
  const activationMs = performance.now() - started;
  ctx.log(`  ${count} subscriptions created and active in ${fmt(activationMs / 1000)} s`);
  // Let the engine finish the passes the subscription writes caused before measuring.
  await sleep(1000);
  return { subs, activationMs };
}

/** Cpu times at `delayMs` from now, and at `delayMs + lengthMs`: the measured window of a run starting now. */
function cpuWindow(serverPid: number, delayMs: number, lengthMs: number): () => CpuUse {
  let from: CpuTimes | undefined;
  let to: CpuTimes | undefined;
  const t1 = setTimeout(() => (from = readCpuTimes(serverPid)), delayMs);
  const t2 = setTimeout(() => (to = readCpuTimes(serverPid)), delayMs + lengthMs);
  return () => {
    clearTimeout(t1);
    clearTimeout(t2);
    const now = readCpuTimes(serverPid);
    return cpuUse(from ?? now, to ?? now);
  };
}

function receiptsPerSecond(receipts: readonly Receipt[], from: number, to: number): number {
  let n = 0;
  for (const r of receipts) if (r.t >= from && r.t < to) n++;
  return to > from ? n / ((to - from) / 1000) : 0;
}

/**
 * Latency at a fixed write rate. "all": every subscription on one code and every write of it
 * (each write → `subscriptions` notifications); "spread": subscriptions n on code n mod `codes`,
 * write i of code i mod `codes` (each write → subscriptions/codes notifications).
 */
export async function runLatency(ctx: ServerContext, variant: 'all' | 'spread'): Promise<LatencyRun> {
  const o = ctx.options;
  const codes = variant === 'all' ? 1 : o.spreadCodes;
  const name = variant === 'all' ? 'latency-all' : 'latency-spread';
  const { subs, activationMs } = await activate(ctx, name, o.subscriptions, (n) => (CODES[n % codes] as VitalSign).code);
  const matches = matchCounts(subs);
  const signOf = (i: number) => CODES[i % codes] as VitalSign;
  const warmupMs = o.warmupSeconds * 1000;
  const measureMs = o.seconds * 1000;
  ctx.log(`  ${o.writeRate} writes/s for ${o.warmupSeconds} s warm-up + ${o.seconds} s; each write matches ${[...matches.values()].join('/')} subscription(s)`);
  const backlog = new BacklogSampler(ctx.db);
  const cpu = cpuWindow(ctx.server.pid, warmupMs, measureMs);
  const { writes, start } = await openLoopWrites(ctx.client, o.writeRate, warmupMs + measureMs, signOf);
  const measureStart = start + warmupMs;
  const measureEnd = measureStart + measureMs;
  const inWindow = writes.filter((w) => w.at >= measureStart && w.at < measureEnd);
  const measuredOk = inWindow.filter((w) => w.id !== undefined);
  const measuredById = new Map(measuredOk.map((w) => [w.id as string, w]));
  const expected = measuredOk.reduce((a, w) => a + (matches.get(w.sign.code) ?? 0), 0);
  const writesEnd = Math.max(...writes.map((w) => w.done));
  const drained = await waitForDeliveries(ctx.receiver, name, measuredById, expected, writesEnd + o.drainSeconds * 1000, ctx.log);
  const cpuUsed = cpu();
  const backlogSummary = await backlog.stop();
  const receipts = ctx.receiver.receipts(name);
  const a = analyse(receipts, writes, new Set(measuredOk), subs);
  const stages = await stageBreakdown(ctx.db, subs.map((s) => s.id), [...measuredById.keys()]);
  const errors = inWindow.filter((w) => w.error !== undefined);
  const run: LatencyRun = {
    name,
    subscriptions: subs.length,
    codes,
    matchesPerWrite: subs.length / codes,
    targetWriteRate: o.writeRate,
    seconds: o.seconds,
    warmupSeconds: o.warmupSeconds,
    activationMs,
    writes: { measured: measuredOk.length, errors: errors.length, firstError: errors[0]?.error, achievedRate: measuredOk.length / o.seconds, latencyMs: summarize(measuredOk.map((w) => w.done - w.sent)) },
    offeredPerSecond: expected / o.seconds,
    deliveredPerSecond: receiptsPerSecond(receipts, measureStart, measureEnd),
    counts: a.counts,
    drainSeconds: (drained.at - writesEnd) / 1000,
    complete: drained.complete,
    latencyMs: a.latencyMs,
    latencyFromSendMs: a.latencyFromSendMs,
    trend: trendOf(measuredOk, measureStart, a.lateOf),
    backlog: backlogSummary,
    stages,
    cpu: cpuUsed,
  };
  ctx.log(`  delivered ${run.counts.delivered}/${run.counts.expected} (${fmt(run.deliveredPerSecond, 0)}/s in the window, ${fmt(run.offeredPerSecond, 0)}/s offered); p50 ${fmt(run.latencyMs.p50)} ms, p99 ${fmt(run.latencyMs.p99)} ms`);
  return run;
}

/** A burst of writes each matching every subscription, then the engine's delivery rate. */
export async function runBurst(ctx: ServerContext): Promise<BurstRun> {
  const o = ctx.options;
  const { subs } = await activate(ctx, 'burst', o.subscriptions, () => (CODES[0] as VitalSign).code);
  ctx.log(`  burst: ${o.burstWrites} writes by ${o.writeClients} clients, each matching all ${subs.length} subscriptions`);
  const backlog = new BacklogSampler(ctx.db);
  const cpuFrom = readCpuTimes(ctx.server.pid);
  const first = performance.now();
  const writes = await closedLoopWrites(ctx.client, o.burstWrites, o.writeClients, CODES[0] as VitalSign);
  const writeSeconds = (performance.now() - first) / 1000;
  const ok = writes.filter((w) => w.id !== undefined);
  const byId = new Map(ok.map((w) => [w.id as string, w]));
  const expected = ok.length * subs.length;
  ctx.log(`  ${ok.length} writes in ${fmt(writeSeconds, 2)} s; waiting for ${expected} notifications (at most ${o.burstMaxSeconds} s)`);
  const drained = await waitForDeliveries(ctx.receiver, 'burst', byId, expected, first + o.burstMaxSeconds * 1000, ctx.log);
  const cpuUsed = cpuUse(cpuFrom, readCpuTimes(ctx.server.pid));
  const backlogSummary = await backlog.stop();
  const receipts = ctx.receiver.receipts('burst').filter((r) => byId.has(r.id));
  const a = analyse(receipts, writes, new Set(ok), subs);
  const times = Float64Array.from(receipts.map((r) => r.t)).sort();
  const last = times.length ? (times[times.length - 1] as number) : first;
  const t10 = percentile(times, 10);
  const t90 = percentile(times, 90);
  const seconds = (last - first) / 1000;
  const run: BurstRun = {
    subscriptions: subs.length,
    writes: ok.length,
    writeErrors: writes.length - ok.length,
    writeSeconds,
    counts: a.counts,
    seconds,
    deliveredPerSecond: seconds > 0 ? a.counts.delivered / seconds : 0,
    steadyPerSecond: t90 > t10 ? (0.8 * times.length) / ((t90 - t10) / 1000) : 0,
    complete: drained.complete,
    latencyMs: a.latencyMs,
    backlog: backlogSummary,
    stages: await stageBreakdown(ctx.db, subs.map((s) => s.id), [...byId.keys()]),
    cpu: cpuUsed,
  };
  ctx.log(`  delivered ${run.counts.delivered}/${expected} in ${fmt(run.seconds)} s: ${fmt(run.deliveredPerSecond, 0)}/s overall, ${fmt(run.steadyPerSecond, 0)}/s steady`);
  return run;
}

/**
 * Closed-loop creates (heart rate) at `writeClients`. off: the server runs no engine (started with
 * SUBSCRIPTION_ENGINE=off by the caller; outbox rows are still written); none: no bench subscription; nomatch:
 * `subscriptions` on a code no write uses (every one is evaluated per batch, none matches); all:
 * `subscriptions` on the written code (each write → that many notifications, delivered meanwhile).
 */
export async function runWriteCost(ctx: ServerContext, variant: CostVariant, round: number): Promise<CostRun> {
  const o = ctx.options;
  const tag = `cost-${variant}-${round}`;
  const subs = variant === 'none' || variant === 'off' ? [] : (await activate(ctx, tag, o.subscriptions, () => (variant === 'all' ? (CODES[0] as VitalSign).code : NEVER_WRITTEN))).subs;
  if (!subs.length) await sleep(1000);
  const sign = CODES[0] as VitalSign;
  const warmupMs = o.warmupSeconds * 1000;
  const measureMs = o.seconds * 1000;
  ctx.log(`  creates at ${o.writeClients} clients: ${o.warmupSeconds} s warm-up + ${o.seconds} s`);
  const backlog = new BacklogSampler(ctx.db);
  const cpu = cpuWindow(ctx.server.pid, warmupMs, measureMs);
  const windowStart = performance.now() + warmupMs;
  const result = await runClosedLoop({ concurrency: o.writeClients, warmupMs, durationMs: measureMs, op: async () => void (await createObservation(ctx.client, sign)) });
  const cpuUsed = cpu();
  const backlogSummary = await backlog.stop();
  const run: CostRun = {
    variant,
    round,
    subscriptions: subs.length,
    matchesPerWrite: variant === 'all' ? subs.length : 0,
    result,
    deliveredPerSecond: receiptsPerSecond(ctx.receiver.receipts(tag), windowStart, windowStart + measureMs),
    backlog: backlogSummary,
    cpu: cpuUsed,
  };
  ctx.log(`  ${fmt(result.throughput)} creates/s, p50 ${fmt(result.latencyMs.p50)} ms, p99 ${fmt(result.latencyMs.p99)} ms, errors ${result.errors}; ${fmt(run.deliveredPerSecond, 0)} deliveries/s`);
  return run;
}
