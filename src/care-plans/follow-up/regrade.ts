/**
 * Control status re-grades the next follow-up (issue 6; reference/clinical-rules.md §1, §4): a
 * reading that is not controlled — blood pressure ≥ 135/85 at home (no encounter) or ≥ 140/90 in
 * clinic, fasting glucose ≥ 7.0 mmol/L — brings the patient's next open follow-up Task forward to
 * within 14 days of the reading ("not controlled: follow up within 2 weeks"); a Task already due
 * sooner is left alone. Idempotent: the same reading moves nothing twice.
 */
import type { BundleEntry, Observation } from '@medplum/fhirtypes';
import { runTransaction } from '../../fhir/index.ts';
import type { FhirStore, TransactionContext } from '../../fhir/index.ts';
import type { ObservationStep } from '../observation-follow-up.ts';
import { PatientCareRecords } from '../patient-care-records.ts';
import { addDays } from '../discharge/due-dates.ts';

const LOINC = 'http://loinc.org';

function valueOf(observation: Observation, code: string): number | undefined {
  const own = observation.code?.coding?.some((c) => c.system === LOINC && c.code === code) ? observation.valueQuantity?.value : undefined;
  return own ?? observation.component?.find((c) => c.code?.coding?.some((x) => x.system === LOINC && x.code === code))?.valueQuantity?.value;
}

/** Why the reading is not controlled, or undefined when it is (or says nothing about control). */
export function notControlled(observation: Observation): string | undefined {
  const home = !observation.encounter;
  const [sbpLimit, dbpLimit] = home ? [135, 85] : [140, 90];
  const sbp = valueOf(observation, '8480-6');
  const dbp = valueOf(observation, '8462-4');
  if ((sbp !== undefined && sbp >= sbpLimit) || (dbp !== undefined && dbp >= dbpLimit)) return `blood pressure ${sbp ?? '–'}/${dbp ?? '–'} mmHg not controlled (${home ? 'home' : 'clinic'} target < ${sbpLimit}/${dbpLimit})`;
  const fpg = valueOf(observation, '14771-0') ?? valueOf(observation, '1558-6');
  const unit = observation.valueQuantity?.code ?? observation.valueQuantity?.unit;
  if (fpg !== undefined && unit === 'mmol/L' && fpg >= 7.0) return `fasting glucose ${fpg} mmol/L not controlled (target < 7.0)`;
  return undefined;
}

export function regradeHandler(deps: { store: FhirStore; fhir: TransactionContext }): ObservationStep {
  return async (event, shared) => {
    const observation = event.resource as Observation | undefined;
    const patient = observation?.subject?.reference;
    const when = observation?.effectiveDateTime?.slice(0, 10);
    if (!observation?.id || event.interaction === 'delete' || !patient?.startsWith('Patient/') || !when) return;
    const reason = notControlled(observation);
    if (!reason) return;
    const latest = addDays(when, 14);
    const records = PatientCareRecords.of(deps.store, patient, shared);
    const open = await records.openTasks('follow-up');
    const later = open.filter((t) => (t.restriction?.period?.end ?? '') > latest);
    if (!later.length) return;
    const entries: BundleEntry[] = later.map((task) => {
      const { meta: _meta, ...rest } = task;
      return {
        resource: {
          ...rest,
          priority: 'urgent',
          restriction: { ...task.restriction, period: { ...task.restriction?.period, end: latest } },
          note: [...(task.note ?? []), { text: `Brought forward to ${latest}: ${reason} (Observation/${observation.id})` }],
        },
        request: { method: 'PUT', url: `Task/${task.id}` },
      };
    });
    await runTransaction(deps.fhir, deps.store, { resourceType: 'Bundle', type: 'transaction', entry: entries });
    records.invalidate();
  };
}
