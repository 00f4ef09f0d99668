/**
 * Priming, untimed: before the measured phases, a batch of discharges of patients that are not
 * measured (4 MLLP connections, closed loop), so the database holds follow-up data (CarePlans,
 * Tasks, RiskAssessments, risk Observations and their search index rows) when it is analysed,
 * as a server that has been running would. Without it the statistics come from the seeding alone
 * (admissions), PostgreSQL plans the follow-up's searches for empty tables, and the follow-up
 * takes 3–4× longer per discharge until autovacuum analyses the tables about a minute later: the
 * first phase would measure that, not the steady state (see RESULTS.md, "cold statistics").
 * BENCH_PRIME_DISCHARGES=0 skips it, to measure exactly that cold start.
 */
import type pg from 'pg';
import { runWorkQueue } from '../lib/load.ts';
import { serviceTimes, waitForQueues } from './engine-queues.ts';
import type { FollowUpMessages } from './messages.ts';
import { MllpPool } from './mllp-pool.ts';
import { FOLLOW_UP_SUBSCRIBER } from './phase.ts';
import type { SeededPatient } from './seed.ts';

export interface PrimeResult {
  discharges: number;
  errors: number;
  /** Sending (ACKs) and then until the follow-up subscriber's queue was empty. */
  sendSeconds: number;
  followUpSeconds: number;
  /** The follow-up subscriber's time per discharge while priming (stale statistics), ms. */
  followUpServiceMs: { events: number; p50: number; p90: number; p99: number; mean: number } | undefined;
}

export async function primeFollowUp(db: pg.Pool, mllpPort: number, messages: FollowUpMessages, patients: readonly SeededPatient[], timeoutMs: number): Promise<PrimeResult> {
  const since = (await db.query<{ t: string }>('SELECT clock_timestamp()::text AS t')).rows[0]?.t as string;
  const pool = await MllpPool.open(mllpPort, 4, timeoutMs);
  let sent;
  try {
    sent = await runWorkQueue(patients, pool.size, (p) => pool.send(messages.discharge(p)));
  } finally {
    pool.close();
  }
  const followUp = await waitForQueues(db, 300_000, FOLLOW_UP_SUBSCRIBER);
  if (followUp.pending) throw new Error(`priming: ${followUp.pending} discharges still without a follow-up after ${followUp.seconds.toFixed(0)} s`);
  const followUpServiceMs = await serviceTimes(db, FOLLOW_UP_SUBSCRIBER, since).catch(() => undefined);
  await db.query('ANALYZE');
  return { discharges: patients.length, errors: sent.errors, sendSeconds: sent.seconds, followUpSeconds: followUp.seconds, followUpServiceMs };
}
