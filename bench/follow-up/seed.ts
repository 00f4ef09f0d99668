/**
 * Seeding, untimed but reported: every patient a phase will discharge, plus the extra inpatients
 * that only get lab results, is admitted first with an ADT^A01 (inpatient, admitted 2–9 days
 * ago), by 8 MLLP connections closed loop (bench/lib/load.ts runWorkQueue). Then each one's
 * Patient id is looked up through the REST API, so that a CarePlan (whose subject is
 * `Patient/{id}`) can be matched to the discharge that caused it.
 */
import type { HttpClient } from '../lib/http-client.ts';
import { runWorkQueue } from '../lib/load.ts';
import { patientIds } from './fhir.ts';
import type { FollowUpMessages, Inpatient } from './messages.ts';
import { MllpPool } from './mllp-pool.ts';

export interface SeededPatient extends Inpatient {
  /** The FHIR Patient id. */
  id: string;
}

export interface SeedResult {
  patients: SeededPatient[];
  admissions: { count: number; seconds: number; perSecond: number; errors: number; firstError: string | undefined; p99Ms: number };
  lookups: { count: number; seconds: number; perSecond: number };
}

const SEED_CONNECTIONS = 8;

export async function seedPatients(mllpPort: number, client: HttpClient, messages: FollowUpMessages, count: number, timeoutMs: number): Promise<SeedResult> {
  const now = Date.now();
  const inpatients = Array.from({ length: count }, (_, n) => messages.inpatient(n, now));
  const pool = await MllpPool.open(mllpPort, SEED_CONNECTIONS, timeoutMs);
  let admitted;
  try {
    admitted = await runWorkQueue(inpatients, SEED_CONNECTIONS, (p) => pool.send(messages.admit(p)));
  } finally {
    pool.close();
  }
  if (admitted.errors) throw new Error(`${admitted.errors} of ${count} admissions failed; first: ${admitted.firstError}`);
  const started = performance.now();
  const ids = await patientIds(client, inpatients.map((p) => p.mrn));
  const lookupSeconds = (performance.now() - started) / 1000;
  return {
    patients: inpatients.map((p) => ({ ...p, id: ids.get(p.mrn) as string })),
    admissions: { count, seconds: admitted.seconds, perSecond: count / admitted.seconds, errors: admitted.errors, firstError: admitted.firstError, p99Ms: admitted.latencyMs.p99 },
    lookups: { count, seconds: lookupSeconds, perSecond: count / lookupSeconds },
  };
}
