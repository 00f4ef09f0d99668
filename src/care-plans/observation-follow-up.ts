/**
 * What the follow-up engine does with every new Observation, as one internal subscriber: check it
 * against the alert thresholds (alerts/observation-alerts.ts), let it end a missed report
 * (reports/sweep.ts), and re-grade the next follow-up when it is not controlled
 * (follow-up/regrade.ts). One subscriber instead of three, so the engine numbers, stores, claims
 * and marks each Observation once: at home-monitoring volumes that bookkeeping, not the checks,
 * was most of the database's work. Each step is idempotent, so a retry after a failure of any of
 * them runs all three again safely.
 */
import type { Observation } from '@medplum/fhirtypes';
import type { InternalEvent } from '../subscriptions/subscription-model.ts';
import { withStandardCodes } from './alerts/standard-codes.ts';
import type { CodeTranslator } from './alerts/standard-codes.ts';

export type ObservationStep = (event: InternalEvent) => Promise<void>;

/**
 * The steps get the Observation with the LOINC codings a ConceptMap gives its local codes added
 * (alerts/standard-codes.ts), translated once here for all three.
 */
export function observationFollowUp(steps: { translator?: CodeTranslator; alerts: ObservationStep; missedReports: ObservationStep; regrade: ObservationStep }): ObservationStep {
  return async (event) => {
    const observation = event.resource as Observation | undefined;
    const standard = observation ? { ...event, resource: await withStandardCodes(observation, steps.translator) } : event;
    // Alerts first: an urgent value should not wait for the bookkeeping steps.
    await steps.alerts(standard);
    await Promise.all([steps.missedReports(standard), steps.regrade(standard)]);
  };
}
