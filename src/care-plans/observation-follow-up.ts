/**
 * What the follow-up engine does with every new Observation, as one internal subscriber: check it
 * against the alert thresholds (alerts/observation-alerts.ts), let it end a missed report
 * (reports/sweep.ts), and re-grade the next follow-up when it is not controlled
 * (follow-up/regrade.ts). One subscriber instead of three, so the engine numbers, stores, claims
 * and marks each Observation once: at home-monitoring volumes that bookkeeping, not the checks,
 * was most of the database's work. Each step is idempotent, so a retry after a failure of any of
 * them runs all three again safely.
 */
import type { InternalEvent } from '../subscriptions/subscription-model.ts';

export type ObservationStep = (event: InternalEvent) => Promise<void>;

export function observationFollowUp(steps: { alerts: ObservationStep; missedReports: ObservationStep; regrade: ObservationStep }): ObservationStep {
  return async (event) => {
    // Alerts first: an urgent value should not wait for the bookkeeping steps.
    await steps.alerts(event);
    await Promise.all([steps.missedReports(event), steps.regrade(event)]);
  };
}
