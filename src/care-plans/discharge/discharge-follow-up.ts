/**
 * On discharge (an inpatient Encounter becomes finished), the follow-up for the episode, as one
 * idempotent transaction (issue 6): a LACE RiskAssessment with each component as an Observation,
 * one CarePlan from the protocols that apply (PlanDefinitions read from the store, so edits through
 * the API apply: transitional care for every discharge, disease protocols selected by the
 * discharge diagnoses), a Task per protocol action with its due date (home monitoring becomes a
 * standing CarePlan activity), and a Provenance naming the protocol versions and the inputs. Every resource is keyed on the encounter, so replaying the event
 * (or the HL7 message) writes nothing new, and a corrected encounter updates them.
 *
 * Runs as an internal subscriber of the subscription engine (at least once, in order).
 */
import type { Bundle, BundleEntry, CarePlan, CarePlanActivity, Condition, Encounter, Extension, MedicationRequest, Observation, PlanDefinition, PlanDefinitionAction, Provenance, Quantity, Reference, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { findMatches, runTransaction, searchAll } from '../../fhir/index.ts';
import type { FhirStore, TransactionContext } from '../../fhir/index.ts';
import type { InternalEvent } from '../../subscriptions/subscription-model.ts';
import { findComorbidities } from '../risk/comorbidity.ts';
import type { ComorbidityTable } from '../risk/comorbidity.ts';
import { hospitalScore } from '../risk/hospital-score.ts';
import type { HospitalInput } from '../risk/hospital-score.ts';
import { laceScore } from '../risk/lace.ts';
import { lengthOfStayDays } from '../risk/length-of-stay.ts';
import { addBusinessDays, addDays } from './due-dates.ts';
import { selectProtocols } from './protocols.ts';
import type { HolidayCalendar } from './due-dates.ts';

export const BASE = 'https://carebridge.dev/fhir';
const TASK_TYPE = `https://carebridge.dev/fhir/CodeSystem/task-type`;
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const ACUTE_CODES = new Set(['E', 'U', 'EM', 'UR', 'A', 'S']);

export interface DischargeDeps {
  store: FhirStore;
  fhir: TransactionContext;
  logger: Logger;
  comorbidities: ComorbidityTable;
  calendar: HolidayCalendar;
  /** The hospital's time zone (length of stay counts its calendar days). */
  timeZone: string;
  /** Lab monitoring the discharge medication calls for (protocols/lab-rechecks.json). */
  labRechecks: LabRecheckTable;
}

export interface LabRecheckTable {
  version: string;
  rules: Array<{ id: string; atc: string; drug: string; lab: { system: string; code: string; display: string }; withinDays: number }>;
}

export function defaultLabRechecks(): LabRecheckTable {
  return JSON.parse(fs.readFileSync(new URL('../protocols/lab-rechecks.json', import.meta.url), 'utf8')) as LabRecheckTable;
}

/** The criteria the engine subscribes with: inpatient encounters that are finished. */
export const DISCHARGE_CRITERIA = `Encounter?status=finished&class=${ACT_CODE}|IMP`;

class Entries {
  readonly entries: BundleEntry[] = [];
  upsert<T extends Resource>(resource: T, system: string, value: string, fullUrl = `urn:uuid:${randomUUID()}`): Reference<T> {
    const url = `${resource.resourceType}?identifier=${encodeURIComponent(`${system}|${value}`)}`;
    this.entries.push({ fullUrl, resource: { ...resource, identifier: [{ system, value }] } as Resource, request: { method: 'PUT', url } });
    return { reference: fullUrl };
  }
  put<T extends Resource & { id: string }>(resource: T): void {
    this.entries.push({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
  }
  bundle(): Bundle {
    return { resourceType: 'Bundle', type: 'transaction', entry: this.entries };
  }
}

const ext = (action: PlanDefinitionAction, name: string): Extension | undefined => action.extension?.find((e) => e.url === `${BASE}/StructureDefinition/${name}`);

function dueDate(action: PlanDefinitionAction, dischargeDate: string, highRisk: boolean, calendar: HolidayCalendar): string | undefined {
  const duration = (highRisk ? ext(action, 'high-risk-timing')?.valueDuration : undefined) ?? action.timingDuration;
  if (duration?.value === undefined) return undefined;
  return ext(action, 'business-days')?.valueBoolean ? addBusinessDays(dischargeDate, duration.value, calendar) : addDays(dischargeDate, duration.value);
}

function icd10Codes(conditions: readonly Condition[]): string[] {
  return conditions.flatMap((c) => (c.code?.coding ?? []).filter((x) => x.code && /icd-10/i.test(x.system ?? '')).map((x) => x.code as string));
}

interface Score {
  method: 'LACE' | 'HOSPITAL';
  title: string;
  total: number;
  band: string;
  components: Record<string, number>;
  labels: Record<string, string>;
}

const LACE_LABELS: Record<string, string> = { L: 'length of stay', A: 'acute admission', C: 'comorbidity (Charlson conditions)', E: 'emergency visits in the 6 months before' };
const HOSPITAL_LABELS: Record<string, string> = {
  H: 'haemoglobin < 12 g/dL at discharge', O: 'discharge from oncology', S: 'sodium < 135 mmol/L at discharge', P: 'procedure during the stay',
  I: 'urgent index admission', A: 'admissions in the previous 12 months', L: 'length of stay ≥ 5 days',
};
/** HOSPITAL bands onto the risk-probability code system (which has no "intermediate"). */
const PROBABILITY: Record<string, string> = { low: 'low', moderate: 'moderate', intermediate: 'moderate', high: 'high' };

/** The latest value of a LOINC-coded lab during the stay, in the unit wanted (g/L → g/dL converted). */
async function labAtDischarge(store: FhirStore, patient: string, loinc: string, start: string, end: string): Promise<Quantity | undefined> {
  const params = new URLSearchParams([['subject', patient], ['code', `http://loinc.org|${loinc}`], ['date', `ge${start}`], ['date', `le${end}`], ['_sort', '-date']]);
  const [latest] = await findMatches(store, 'Observation', params, 1);
  return latest?.content ? (JSON.parse(latest.content) as Observation).valueQuantity : undefined;
}

async function hospitalInputs(store: FhirStore, encounter: Encounter & { id: string }, patient: string, start: string, end: string, urgent: boolean, stay: number): Promise<HospitalInput> {
  const hb = await labAtDischarge(store, patient, '718-7', start, end);
  const sodium = await labAtDischarge(store, patient, '2951-2', start, end);
  const hbUnit = (hb?.code ?? hb?.unit ?? '').toLowerCase();
  const haemoglobinGdl = hb?.value === undefined ? undefined : hbUnit === 'g/l' ? hb.value / 10 : hbUnit === 'g/dl' ? hb.value : undefined;
  const sodiumUnit = (sodium?.code ?? sodium?.unit ?? '').toLowerCase();
  const sodiumMmolL = sodium?.value !== undefined && (sodiumUnit === 'mmol/l' || sodiumUnit === 'meq/l') ? sodium.value : undefined;
  const yearBefore = new Date(Date.parse(start) - 365 * 86_400_000).toISOString();
  const admissions = await findMatches(store, 'Encounter', new URLSearchParams([['subject', patient], ['class', `${ACT_CODE}|IMP`], ['date', `ge${yearBefore}`], ['date', `lt${start}`]]), 100);
  const procedures = await findMatches(store, 'Procedure', new URLSearchParams({ encounter: `Encounter/${encounter.id}` }), 1);
  // Discharging service PV1-10 ONC, or a local department a ConceptMap translated to ONC.
  const oncology = (encounter.serviceType?.coding ?? []).some((c) => c.code?.toUpperCase() === 'ONC');
  return {
    haemoglobinGdl,
    sodiumMmolL,
    oncologyDischarge: oncology,
    procedureDuringStay: procedures.length > 0,
    urgentAdmission: urgent,
    admissionsPrevious12Months: admissions.filter((v) => v.id !== encounter.id).length,
    lengthOfStayDays: stay,
  };
}

export function dischargeHandler(deps: DischargeDeps): (event: InternalEvent) => Promise<void> {
  return async (event) => {
    const encounter = event.resource as Encounter | undefined;
    if (!encounter?.id || encounter.status !== 'finished' || encounter.class?.code !== 'IMP') return;
    const patient = encounter.subject;
    const start = encounter.period?.start;
    const end = encounter.period?.end;
    if (!patient?.reference || !start || !end) {
      deps.logger.warn({ encounter: encounter.id }, 'discharge without a patient or an admission/discharge time: no follow-up generated');
      return;
    }
    const conditions = (await searchAll(deps.store, 'Condition', new URLSearchParams({ encounter: `Encounter/${encounter.id}` }))).map((v) => JSON.parse(v.content as string) as Condition);
    // Discharge medication: the active orders of the stay (HL7 RDE/OMP with the visit in PV1).
    const medications = (await searchAll(deps.store, 'MedicationRequest', new URLSearchParams({ encounter: `Encounter/${encounter.id}`, status: 'active' }))).map((v) => JSON.parse(v.content as string) as MedicationRequest & { id: string });
    // Protocols are read from the store each time, so edits and additions through the API apply.
    const stored = (await searchAll(deps.store, 'PlanDefinition', new URLSearchParams({ status: 'active' }))).map((v) => JSON.parse(v.content as string) as PlanDefinition);
    const protocols = selectProtocols(stored, icd10Codes(conditions));
    if (!protocols.length) {
      deps.logger.warn({ encounter: encounter.id }, 'no follow-up protocol applies to this discharge (is transitional-care active?)');
      return;
    }
    const sixMonthsBefore = new Date(Date.parse(start) - 183 * 86_400_000).toISOString();
    const edVisits = await findMatches(deps.store, 'Encounter', new URLSearchParams([['subject', patient.reference], ['class', `${ACT_CODE}|EMER`], ['date', `ge${sixMonthsBefore}`], ['date', `lt${start}`]]), 100);
    const acute = [...(encounter.priority?.coding ?? [])].some((c) => ACUTE_CODES.has((c.code ?? '').toUpperCase()));
    const stay = lengthOfStayDays(start, end, deps.timeZone);
    const lace = laceScore({
      lengthOfStayDays: stay,
      acuteAdmission: acute,
      comorbidities: findComorbidities(icd10Codes(conditions), deps.comorbidities),
      emergencyVisits6Months: edVisits.length,
    });
    const hospital = hospitalScore(await hospitalInputs(deps.store, encounter as Encounter & { id: string }, patient.reference, start, end, acute, stay));
    const scores: Score[] = [
      { method: 'LACE', title: 'LACE index', total: lace.total, band: lace.band, components: lace.components, labels: LACE_LABELS },
      ...(hospital ? [{ method: 'HOSPITAL', title: 'HOSPITAL score', total: hospital.total, band: hospital.band, components: hospital.components, labels: HOSPITAL_LABELS } satisfies Score] : []),
    ];
    const bundle = build(deps, encounter as Encounter & { id: string }, patient, protocols, conditions, scores, end, medications);
    await runTransaction(deps.fhir, deps.store, bundle);
    deps.logger.info({ encounter: encounter.id, lace: lace.total, hospital: hospital?.total }, 'discharge follow-up generated');
  };
}

function build(deps: DischargeDeps, encounter: Encounter & { id: string }, patient: Reference, protocols: PlanDefinition[], conditions: Condition[], scores: Score[], dischargedAt: string, medications: Array<MedicationRequest & { id: string }>): Bundle {
  const e = new Entries();
  const key = encounter.id;
  const canonicalOf = (p: PlanDefinition) => `${p.url}|${p.version}`;
  const versions = protocols.map((p) => `${p.name} ${p.version}`).join(', ');
  const encounterRef = { reference: `Encounter/${encounter.id}` };
  const conditionRefs = conditions.map((c) => ({ reference: `Condition/${c.id}` }));
  const highRisk = scores.some((s) => s.band === 'high');
  const components: Array<Reference<Observation>> = [];
  const risks = scores.map((score) => {
    const basis = Object.entries(score.components).map(([item, points]) =>
      e.upsert<Observation>(
        {
          resourceType: 'Observation',
          status: 'final',
          code: { coding: [{ system: `${BASE}/CodeSystem/risk-component`, code: `${score.method}-${item}`, display: `${score.method} ${item}: ${score.labels[item]}` }], text: `${score.method} ${item}: ${score.labels[item]}` },
          subject: patient as Reference<never>,
          encounter: encounterRef,
          effectiveDateTime: dischargedAt,
          valueInteger: points,
        },
        `${BASE}/NamingSystem/risk-component`,
        `${key}#${score.method}#${item}`,
      ),
    );
    components.push(...basis);
    return e.upsert<RiskAssessment>(
      {
        resourceType: 'RiskAssessment',
        extension: [{ url: `${BASE}/StructureDefinition/risk-score`, valueDecimal: score.total }],
        status: 'final',
        method: { coding: [{ system: `${BASE}/CodeSystem/risk-method`, code: score.method, display: score.title }], text: `${score.title} (${versions})` },
        subject: patient as Reference<never>,
        encounter: encounterRef,
        occurrenceDateTime: dischargedAt,
        basis: [...basis, encounterRef, ...conditionRefs],
        prediction: [{ outcome: { text: '30-day readmission' }, qualitativeRisk: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/risk-probability', code: PROBABILITY[score.band] ?? score.band }], text: score.band } }],
      },
      `${BASE}/NamingSystem/risk-assessment`,
      `${key}#${score.method}`,
    );
  });
  const risk = risks[0]!;
  const dischargeDate = dischargedAt.slice(0, 10);
  const carePlanUrl = `urn:uuid:${randomUUID()}`;
  const monitoring: CarePlanActivity[] = [];
  const tasks = protocols.flatMap((protocol) =>
    (protocol.action ?? []).flatMap((action) => {
      const taskType = action.code?.[0]?.coding?.find((c) => c.system === TASK_TYPE)?.code;
      const measured = ext(action, 'monitoring-code')?.valueCoding;
      if (taskType === 'monitoring' && measured) {
        // Home monitoring is a standing activity of the plan (what makes a patient expected to report), not a one-off Task.
        monitoring.push({
          detail: {
            kind: 'ServiceRequest',
            instantiatesCanonical: [canonicalOf(protocol)],
            code: { coding: [measured], text: action.title },
            status: 'scheduled',
            scheduledTiming: { repeat: { frequency: 1, period: action.timingDuration?.value ?? 1, periodUnit: 'd' } },
            description: action.title,
          },
        });
        return [];
      }
      const due = dueDate(action, dischargeDate, highRisk, deps.calendar);
      return [
        e.upsert<Task>(
          {
            resourceType: 'Task',
            instantiatesCanonical: canonicalOf(protocol),
            basedOn: [{ reference: carePlanUrl }],
            status: 'requested',
            intent: 'plan',
            priority: highRisk ? 'urgent' : 'routine',
            code: action.code?.[0],
            description: action.title,
            focus: encounterRef,
            for: patient,
            encounter: encounterRef,
            authoredOn: dischargedAt,
            ...(due ? { restriction: { period: { end: due } } } : {}),
            ...(encounter.serviceProvider ? { owner: encounter.serviceProvider } : {}),
            // The assessment that made the risk high (and the task urgent), else LACE.
            reasonReference: risks[scores.findIndex((score) => score.band === 'high')] ?? risk,
          },
          `${BASE}/NamingSystem/task`,
          `${key}#${protocol.id}#${action.id ?? action.title}`,
        ),
      ];
    }),
  );
  // Medication reminders: one Task per discharge order, carrying its timing (QD/BID/…, times of
  // day, bounds) for apps to schedule reminders from (they subscribe to these Tasks).
  const reminders = medications.flatMap((request) => {
    const dose = request.dosageInstruction?.[0];
    const timing = dose?.timing;
    if (!timing?.repeat && !timing?.event) return [];
    const name = request.medicationCodeableConcept?.text ?? request.medicationCodeableConcept?.coding?.[0]?.display ?? 'medication';
    const bounds = timing.repeat?.boundsPeriod;
    const supplyDays = request.dispenseRequest?.expectedSupplyDuration?.value;
    const end = bounds?.end ?? (supplyDays ? addDays(dischargeDate, supplyDays) : undefined);
    return [
      e.upsert<Task>(
        {
          resourceType: 'Task',
          basedOn: [{ reference: carePlanUrl }],
          status: 'requested',
          intent: 'plan',
          priority: 'routine',
          code: { coding: [{ system: TASK_TYPE, code: 'medication-reminder' }] },
          description: [name, dose?.text, timing.repeat?.timeOfDay?.map((t) => t.slice(0, 5)).join(', ')].filter(Boolean).join(' '),
          focus: { reference: `MedicationRequest/${request.id}` },
          for: patient,
          encounter: encounterRef,
          authoredOn: dischargedAt,
          restriction: { period: { start: dischargedAt, ...(end ? { end } : {}) } },
          input: [{ type: { text: 'timing' }, valueTiming: timing }, ...(dose?.patientInstruction ? [{ type: { text: 'instruction' }, valueString: dose.patientInstruction }] : [])],
        },
        `${BASE}/NamingSystem/task`,
        `${key}#medication#${request.id}`,
      ),
    ];
  });

  // Lab re-checks the discharge medication calls for (lab-rechecks.json: ATC prefix → test, days).
  const rechecks = medications.flatMap((request) => {
    const atc = request.medicationCodeableConcept?.coding?.filter((c) => c.system === 'http://www.whocc.no/atc' && c.code).map((c) => c.code as string) ?? [];
    return deps.labRechecks.rules
      .filter((rule) => atc.some((code) => code.startsWith(rule.atc)))
      .map((rule) =>
        e.upsert<Task>(
          {
            resourceType: 'Task',
            basedOn: [{ reference: carePlanUrl }],
            status: 'requested',
            intent: 'plan',
            priority: 'routine',
            code: { coding: [{ system: TASK_TYPE, code: 'lab-recheck' }], text: `Re-check ${rule.lab.display}` },
            description: `${rule.lab.display} within ${rule.withinDays} days of discharge (${rule.drug})`,
            focus: { reference: `MedicationRequest/${request.id}` },
            for: patient,
            encounter: encounterRef,
            authoredOn: dischargedAt,
            restriction: { period: { end: addDays(dischargeDate, rule.withinDays) } },
            input: [{ type: { text: 'test' }, valueCoding: rule.lab }, { type: { text: 'rule' }, valueString: `${rule.id} (lab re-checks ${deps.labRechecks.version})` }],
          },
          `${BASE}/NamingSystem/task`,
          `${key}#lab-recheck#${request.id}#${rule.id}`,
        ),
      );
  });

  const carePlan = e.upsert<CarePlan>(
    {
      resourceType: 'CarePlan',
      instantiatesCanonical: protocols.map(canonicalOf),
      status: 'active',
      intent: 'plan',
      title: `Follow-up after discharge: ${protocols.map((p) => p.title).join('; ')}`,
      subject: patient as Reference<never>,
      encounter: encounterRef,
      period: { start: dischargedAt },
      addresses: conditionRefs,
      supportingInfo: risks,
      activity: [...[...tasks, ...reminders, ...rechecks].map((reference) => ({ reference })), ...monitoring],
    },
    `${BASE}/NamingSystem/care-plan`,
    key,
    carePlanUrl,
  );
  const provenance: Provenance & { id: string } = {
    resourceType: 'Provenance',
    id: `follow-up-${key}`,
    target: [carePlan, ...risks, ...tasks, ...reminders, ...rechecks, ...components],
    // Deterministic (the discharge time), so a replay leaves the Provenance unchanged.
    recorded: /T\d{2}:\d{2}:\d{2}/.test(dischargedAt) ? dischargedAt : `${dischargedAt.slice(0, 10)}T00:00:00Z`,
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler' }] }, who: { display: 'CareBridge follow-up engine' } }],
    entity: [
      { role: 'source', what: { reference: `Encounter/${encounter.id}/_history/${encounter.meta?.versionId ?? '1'}` } },
      ...protocols.map((p) => ({ role: 'derivation' as const, what: { reference: `PlanDefinition/${p.id}`, display: canonicalOf(p) } })),
      ...conditionRefs.map((what) => ({ role: 'source' as const, what })),
    ],
  };
  e.put(provenance);
  return e.bundle();
}
