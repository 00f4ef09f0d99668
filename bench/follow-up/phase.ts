/**
 * One measured phase: ADT^A03 discharges of distinct patients, open loop at the target rate over
 * several MLLP connections, for a warm-up and then the measured window, with or without the
 * other load beside them. A discharge's latency is the receipt of the first CarePlan notification
 * for its patient minus the moment its A03 was written to the socket (both performance.now() in
 * this process). Only discharges due in the measured window count. After the last one the phase
 * waits up to BENCH_DRAIN_SECONDS for the plans still missing (the other load keeps running
 * meanwhile). Discharges without a plan by then, ACK errors included, count as infinitely late
 * in the percentiles, so a p99 is never flattered by leaving the slowest out. From the server's
 * tables: where the time went (Encounter written → follow-up engine done; CarePlan written →
 * delivered) and how far each subscriber's queue grew.
 */
import type pg from 'pg';
import { sleep } from '../lib/child-process.ts';
import { latencyWithMissing, summarize } from '../lib/load.ts';
import type { LatencySummary, LatencyWithMissing } from '../lib/load.ts';
import { cpuUse, readCpuTimes } from '../subscriptions/cpu.ts';
import type { CpuTimes, CpuUse } from '../subscriptions/cpu.ts';
import { stageBreakdown } from '../subscriptions/engine-state.ts';
import type { StageBreakdown } from '../subscriptions/engine-state.ts';
import { QueueSampler, serviceTimes } from './engine-queues.ts';
import type { QueueSummary } from './engine-queues.ts';
import { startOtherLoads } from './loads.ts';
import type { OtherLoadName, Population } from './loads.ts';
import type { FollowUpMessages } from './messages.ts';
import { MllpPool } from './mllp-pool.ts';
import { loopStats, OpenLoop } from './open-loop.ts';
import type { LoopStats } from './open-loop.ts';
import type { FollowUpBenchOptions } from './options.ts';
import type { CarePlanReceiver } from './receiver.ts';
import type { SeededPatient } from './seed.ts';

export const FOLLOW_UP_SUBSCRIBER = 'internal-discharge-follow-up';

export interface PhaseContext {
  options: FollowUpBenchOptions;
  server: { url: string; mllpPort: number };
  db: pg.Pool;
  messages: FollowUpMessages;
  receiver: CarePlanReceiver;
  /** The bench's CarePlan subscription. */
  subscriptionId: string;
  serverPid: number;
  /** Patients discharged so far in the run (this phase appends to it): the home readings' and reads' population. */
  discharged: SeededPatient[];
  /** Inpatients that are never discharged (lab results only). */
  extraInpatients: readonly SeededPatient[];
  /** Max server RSS (MiB) since the previous call. */
  rssWindowMiB: () => number | undefined;
  log: (message: string) => void;
}

/** Percentiles in ms where a discharge without a plan counts as +Infinity (JSON: null). */
export type PlanLatency = LatencyWithMissing;

export interface PhaseResult {
  name: 'baseline' | 'under load';
  otherLoad: boolean;
  targetRate: number;
  warmupSeconds: number;
  measuredSeconds: number;
  discharges: {
    /** A03s due in the measured window (each a different patient). */
    measured: number;
    /** …of which written to a socket, and those acknowledged AA per second of the window. */
    sent: number;
    ackedPerSecond: number;
    ackErrors: number;
    firstAckError: string | undefined;
    ackLatencyMs: LatencySummary;
    /** Written − due: the open-loop schedule's slip (waiting for a free connection). */
    latenessMs: { p50: number; p99: number; max: number };
    lateOver100ms: number;
    /** A03s sent in the warm-up (they load the server too, but are not counted). */
    warmup: number;
  };
  carePlans: {
    /** Measured discharges whose CarePlan arrived. */
    received: number;
    missing: number;
    /** Seconds from the last discharge sent until the last measured plan arrived (or the drain gave up). */
    drainSeconds: number;
    complete: boolean;
    /** Up to 5 patients (MRN, Patient id) without a plan, for whoever debugs. */
    missingExamples: Array<{ mrn: string; patientId: string; ack: string }>;
  };
  /** Plan received − A03 written. */
  latencyMs: PlanLatency;
  /** Plan received − A03 due (includes the schedule's slip). */
  latencyFromDueMs: PlanLatency;
  /** By due time, 10 s buckets of the measured window: does latency grow (the engine falls behind)? */
  trend: Array<{ fromSecond: number; discharges: number; p50: number; p99: number }>;
  other: Array<{ name: OtherLoadName; targetRate: number; stats: LoopStats }>;
  /** The follow-up subscriber: Encounter written → notification stored (dispatch); stored → handler finished and recorded (the follow-up transaction). */
  followUpStages: StageBreakdown | undefined;
  /** The bench subscription: CarePlan written → notification stored; stored → delivered to the receiver. */
  carePlanStages: StageBreakdown | undefined;
  queues: QueueSummary;
  /** The follow-up subscriber's time per discharge without the queue wait (handler + claim + record), ms: its rate is capped at 1000 / mean. */
  followUpServiceMs: { events: number; p50: number; p90: number; p99: number; mean: number } | undefined;
  /** Cores used in the measured window: server Node.js process, its PostgreSQL, this bench process. */
  cpu: CpuUse | undefined;
  rssMaxMiB: number | undefined;
}

interface DischargeRecord {
  patient: SeededPatient;
  at: number;
  written: number;
  acked: number;
  ackError: string | undefined;
}

export async function runPhase(ctx: PhaseContext, name: PhaseResult['name'], patients: readonly SeededPatient[], measuredSeconds: number, otherLoad: boolean): Promise<PhaseResult> {
  const o = ctx.options;
  const pool = await MllpPool.open(ctx.server.mllpPort, o.mllpConnections, o.timeoutSeconds * 1000);
  const records: DischargeRecord[] = [];
  const population: Population = {
    inpatient: (rand) => {
      // Not one being discharged in the next ~2 s: the lab would race the discharge for the patient's lock.
      const from = Math.min(patients.length, records.length + Math.ceil(2 * o.dischargeRate));
      const total = patients.length - from + ctx.extraInpatients.length;
      if (total <= 0) return undefined;
      const k = Math.floor(rand() * total);
      return k < patients.length - from ? patients[from + k] : ctx.extraInpatients[k - (patients.length - from)];
    },
    discharged: (rand) => (ctx.discharged.length ? ctx.discharged[Math.floor(rand() * ctx.discharged.length)] : undefined),
  };
  const start = performance.now() + 200;
  const measureFrom = start + o.warmupSeconds * 1000;
  const measureTo = measureFrom + measuredSeconds * 1000;
  const queues = new QueueSampler(ctx.db);
  ctx.rssWindowMiB();
  let cpuFrom: CpuTimes | undefined;
  let cpuTo: CpuTimes | undefined;
  const cpuTimers = [setTimeout(() => (cpuFrom = readCpuTimes(ctx.serverPid)), measureFrom - performance.now()), setTimeout(() => (cpuTo = readCpuTimes(ctx.serverPid)), measureTo - performance.now())];
  const others = otherLoad ? await startOtherLoads(o, ctx.server, ctx.messages, population, start) : undefined;
  ctx.log(`${name}: ${patients.length} discharges at ${o.dischargeRate}/s (${o.warmupSeconds} s warm-up + ${measuredSeconds} s)${otherLoad ? `, other load: ${o.oruRate} ORU/s, ${o.observationRate} home readings/s, ${o.searchRate} reads/s` : ', no other load'}`);
  const discharges = new OpenLoop({
    rate: o.dischargeRate,
    start,
    count: patients.length,
    maxInFlight: pool.size,
    op: async (i) => {
      const patient = patients[i] as SeededPatient;
      const record: DischargeRecord = { patient, at: start + (i * 1000) / o.dischargeRate, written: Number.NaN, acked: Number.NaN, ackError: undefined };
      records.push(record);
      try {
        await pool.send(ctx.messages.discharge(patient), (t) => (record.written = t));
        record.acked = performance.now();
        ctx.discharged.push(patient);
      } catch (err) {
        record.ackError = err instanceof Error ? err.message : String(err);
        throw err;
      }
    },
  });
  let stopTime: number;
  let drainSeconds: number;
  try {
    await discharges.finished();
    const lastSent = performance.now();
    queues.endRateWindow();
    ctx.log(`${name}: all discharges sent and acknowledged; waiting for their CarePlans (at most ${o.drainSeconds} s)`);
    const measured = () => records.filter((r) => r.at >= measureFrom && r.at < measureTo);
    const waiting = () => measured().filter((r) => !r.ackError && !ctx.receiver.forSubject(`Patient/${r.patient.id}`)).length;
    while (waiting() > 0 && performance.now() - lastSent < o.drainSeconds * 1000) await sleep(50);
    drainSeconds = (performance.now() - lastSent) / 1000;
  } finally {
    await others?.stop();
    stopTime = performance.now();
    pool.close();
    for (const t of cpuTimers) clearTimeout(t);
  }
  const queueSummary = await queues.stop();
  const since = await queues.since();
  const followUpServiceMs = since ? await serviceTimes(ctx.db, FOLLOW_UP_SUBSCRIBER, since).catch(() => undefined) : undefined;
  const rssMaxMiB = ctx.rssWindowMiB();

  const measured = records.filter((r) => r.at >= measureFrom && r.at < measureTo);
  const fromWrite: number[] = [];
  const fromDue: number[] = [];
  const missing: DischargeRecord[] = [];
  const encounterIds: string[] = [];
  const carePlanIds: string[] = [];
  const latencyOf = new Map<DischargeRecord, number>();
  for (const r of measured) {
    const receipt = r.ackError ? undefined : ctx.receiver.forSubject(`Patient/${r.patient.id}`);
    if (!receipt) {
      missing.push(r);
      continue;
    }
    latencyOf.set(r, receipt.t - r.written);
    fromWrite.push(receipt.t - r.written);
    fromDue.push(receipt.t - r.at);
    carePlanIds.push(receipt.carePlanId);
    if (receipt.encounter?.startsWith('Encounter/')) encounterIds.push(receipt.encounter.slice('Encounter/'.length));
  }
  const ackErrors = measured.filter((r) => r.ackError);
  const sent = measured.filter((r) => Number.isFinite(r.written));
  const trend: PhaseResult['trend'] = [];
  for (let from = 0; from < measuredSeconds; from += 10) {
    const inBucket = measured.filter((r) => r.at - measureFrom >= from * 1000 && r.at - measureFrom < (from + 10) * 1000);
    const got = inBucket.map((r) => latencyOf.get(r)).filter((x): x is number => x !== undefined);
    const l = latencyWithMissing(got, inBucket.length - got.length);
    trend.push({ fromSecond: from, discharges: inBucket.length, p50: l.p50, p99: l.p99 });
  }
  const stats = loopStats(discharges.records, measureFrom, measureTo);
  const stages = async (subscription: string, ids: string[]) => (ids.length ? await stageBreakdown(ctx.db, [subscription], ids).catch(() => undefined) : undefined);
  const result: PhaseResult = {
    name,
    otherLoad,
    targetRate: o.dischargeRate,
    warmupSeconds: o.warmupSeconds,
    measuredSeconds,
    discharges: {
      measured: measured.length,
      sent: sent.length,
      ackedPerSecond: stats.achievedRate,
      ackErrors: ackErrors.length,
      firstAckError: ackErrors[0]?.ackError,
      ackLatencyMs: summarize(measured.filter((r) => !r.ackError && Number.isFinite(r.acked)).map((r) => r.acked - r.written)),
      latenessMs: stats.latenessMs,
      lateOver100ms: stats.lateOver100ms,
      warmup: records.filter((r) => r.at < measureFrom).length,
    },
    carePlans: {
      received: measured.length - missing.length,
      missing: missing.length,
      drainSeconds,
      complete: missing.length === 0,
      missingExamples: missing.slice(0, 5).map((r) => ({ mrn: r.patient.mrn, patientId: r.patient.id, ack: r.ackError ?? 'AA' })),
    },
    latencyMs: latencyWithMissing(fromWrite, missing.length),
    latencyFromDueMs: latencyWithMissing(fromDue, missing.length),
    trend,
    other: (others?.loops ?? []).flatMap((l) =>
      l.names.map((n) => {
        const kindRecords = l.loop.records.filter((r) => l.kindOf(r.i) === n);
        return { name: n, targetRate: l.rate / l.names.length, stats: loopStats(kindRecords, measureFrom, stopTime) };
      }),
    ),
    followUpStages: await stages(FOLLOW_UP_SUBSCRIBER, encounterIds),
    carePlanStages: await stages(ctx.subscriptionId, carePlanIds),
    queues: queueSummary,
    followUpServiceMs,
    cpu: cpuFrom && cpuTo ? cpuUse(cpuFrom, cpuTo) : undefined,
    rssMaxMiB,
  };
  const l = result.latencyMs;
  ctx.log(`${name}: ${result.carePlans.received}/${measured.length} plans, p50 ${l.p50.toFixed(0)} ms, p99 ${Number.isFinite(l.p99) ? l.p99.toFixed(0) : '∞'} ms, ACK errors ${ackErrors.length}, missing ${missing.length}`);
  return result;
}
