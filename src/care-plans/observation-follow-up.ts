/**
 * What the follow-up engine does with every new Observation, as one internal subscriber: check it
 * against the alert thresholds (alerts/observation-alerts.ts), let it end a missed report
 * (reports/sweep.ts), and re-grade the next follow-up when it is not controlled
 * (follow-up/regrade.ts). One subscriber instead of three, so the engine numbers, stores, claims
 * and marks each Observation once: at home-monitoring volumes that bookkeeping, not the checks,
 * was most of the database's work. Each step is idempotent, so a retry after a failure of any of
 * them runs all three again safely.
 *
 * A patient's readings of one batch are handled together (handleGroup; an HL7 message brings five
 * vital signs at once), in event order, sharing one read of the patient's active plans and open
 * tasks (patient-care-records.ts) instead of three searches per reading.
 */
import type { Observation } from '@medplum/fhirtypes';
import type { FhirStore } from '../fhir/index.ts';
import type { InternalEvent } from '../subscriptions/subscription-model.ts';
import { withStandardCodes } from './alerts/standard-codes.ts';
import type { CodeTranslator } from './alerts/standard-codes.ts';
import { PatientCareRecords } from './patient-care-records.ts';

/**
 * One check of a reading. `records` are the reading's patient's plans and tasks when the caller
 * shares them across readings (a step reads its own when they are for another patient or absent).
 */
export type ObservationStep = (event: InternalEvent, records?: PatientCareRecords) => Promise<void>;

export interface ObservationFollowUp {
  handle: (event: InternalEvent) => Promise<void>;
  handleGroup: (events: InternalEvent[]) => Promise<void>;
}

/**
 * The steps get the Observation with the LOINC codings a ConceptMap gives its local codes added
 * (alerts/standard-codes.ts), translated once here for all three.
 */
export function observationFollowUp(steps: { store: FhirStore; translator?: CodeTranslator; alerts: ObservationStep; missedReports: ObservationStep; regrade: ObservationStep }): ObservationFollowUp {
  const one = async (event: InternalEvent, records: Map<string, PatientCareRecords>) => {
    const observation = event.resource as Observation | undefined;
    const standard = observation ? { ...event, resource: await withStandardCodes(observation, steps.translator) } : event;
    const patient = observation?.subject?.reference;
    let shared: PatientCareRecords | undefined;
    if (patient?.startsWith('Patient/')) {
      shared = records.get(patient);
      if (!shared) records.set(patient, (shared = new PatientCareRecords(steps.store, patient)));
    }
    // Alerts first: an urgent value should not wait for the bookkeeping steps.
    await steps.alerts(standard, shared);
    await Promise.all([steps.missedReports(standard, shared), steps.regrade(standard, shared)]);
  };
  return {
    handle: (event) => one(event, new Map()),
    handleGroup: async (events) => {
      const records = new Map<string, PatientCareRecords>();
      for (const event of events) await one(event, records);
    },
  };
}
