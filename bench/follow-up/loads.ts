/**
 * "The other load" that runs beside the discharges in the phase under load. Each is an open loop
 * at its own fixed rate, started together with the discharges and stopped when the phase's last
 * CarePlan has arrived (or the drain gave up), so every measured discharge meets all of it:
 *
 * - lab results: ORU^R01 over MLLP (its own connections) for patients still in hospital: one
 *   whose discharge is at least 2 s away, or an extra inpatient who is never discharged. They
 *   feed the HOSPITAL score (haemoglobin, sodium) of the later discharge, as real ward labs do.
 * - home readings: `POST /fhir/Observation` (blood pressure panel, weight, glucose) for patients
 *   already discharged, i.e. with a follow-up in progress. Each one wakes the engine's three
 *   internal Observation subscribers (alerts, regrading, missed reports).
 * - clinician reads: the worklist search and one patient's CarePlans, alternating.
 */
import { HttpClient } from '../lib/http-client.ts';
import { prng } from '../lib/payloads.ts';
import { homeReading, postObservation, readCarePlans, searchWorklist } from './fhir.ts';
import type { FollowUpMessages } from './messages.ts';
import { MllpPool } from './mllp-pool.ts';
import { OpenLoop, withTimeout } from './open-loop.ts';
import type { FollowUpBenchOptions } from './options.ts';
import type { SeededPatient } from './seed.ts';

export type OtherLoadName = 'lab results (ORU^R01, MLLP)' | 'home readings (POST Observation)' | 'worklist search' | 'CarePlan read';

/** Where the other load finds its patients, as the phase goes on. */
export interface Population {
  /** A patient in hospital now (not discharged in the next ~2 s), or undefined. */
  inpatient(rand: () => number): SeededPatient | undefined;
  /** A patient discharged already (ACK received), or undefined before the first one. */
  discharged(rand: () => number): SeededPatient | undefined;
}

export interface OtherLoads {
  /** One open loop per load; the search loop carries two kinds of read (even i: worklist, odd i: CarePlan read). */
  loops: Array<{ names: OtherLoadName[]; rate: number; loop: OpenLoop; kindOf: (i: number) => OtherLoadName }>;
  stop(): Promise<void>;
}

class NoPatient extends Error {}

export async function startOtherLoads(o: FollowUpBenchOptions, server: { url: string; mllpPort: number }, messages: FollowUpMessages, population: Population, start: number): Promise<OtherLoads> {
  const rand = prng(o.seed + 7);
  const timeoutMs = o.timeoutSeconds * 1000;
  const oru = o.oruRate > 0 ? await MllpPool.open(server.mllpPort, o.oruConnections, timeoutMs) : undefined;
  const observations = new HttpClient(server.url, 64);
  const reads = new HttpClient(server.url, 16);
  const loops: OtherLoads['loops'] = [];
  // An operation that finds no patient to act for (a home reading before the first discharge) is skipped, not sent.
  const guard = (op: (i: number) => Promise<void>) => async (i: number): Promise<void | 'skipped'> => {
    try {
      await op(i);
    } catch (err) {
      if (err instanceof NoPatient) return 'skipped';
      throw err;
    }
  };
  if (oru) {
    const name: OtherLoadName = 'lab results (ORU^R01, MLLP)';
    const op = guard(async () => {
      const p = population.inpatient(rand);
      if (!p) throw new NoPatient();
      await oru.send(messages.labResult(p));
    });
    loops.push({ names: [name], rate: o.oruRate, kindOf: () => name, loop: new OpenLoop({ rate: o.oruRate, start, maxInFlight: oru.size, op }) });
  }
  if (o.observationRate > 0) {
    const name: OtherLoadName = 'home readings (POST Observation)';
    const op = guard(async (i) => {
      const p = population.discharged(rand);
      if (!p) throw new NoPatient();
      await withTimeout(postObservation(observations, homeReading(p.id, i, rand, 55 + ((p.n * 7919) % 40))), timeoutMs, 'POST Observation');
    });
    loops.push({ names: [name], rate: o.observationRate, kindOf: () => name, loop: new OpenLoop({ rate: o.observationRate, start, maxInFlight: 64, op }) });
  }
  if (o.searchRate > 0) {
    const kindOf = (i: number): OtherLoadName => (i % 2 === 0 ? 'worklist search' : 'CarePlan read');
    const op = async (i: number) => {
      if (kindOf(i) === 'worklist search') return withTimeout(searchWorklist(reads), timeoutMs, 'worklist search');
      return guard(async () => {
        const p = population.discharged(rand);
        if (!p) throw new NoPatient();
        await withTimeout(readCarePlans(reads, p.id), timeoutMs, 'CarePlan read');
      })(i);
    };
    loops.push({ names: ['worklist search', 'CarePlan read'], rate: o.searchRate, kindOf, loop: new OpenLoop({ rate: o.searchRate, start, maxInFlight: 16, op }) });
  }
  return {
    loops,
    async stop() {
      await Promise.all(loops.map((l) => l.loop.stop()));
      oru?.close();
      observations.close();
      reads.close();
    },
  };
}
