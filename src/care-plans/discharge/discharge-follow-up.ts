/**
 * On discharge (an inpatient Encounter becomes finished), the follow-up for the episode, as one
 * idempotent transaction (issue 6): LACE and, with discharge labs, HOSPITAL RiskAssessments with
 * each component as an Observation; one CarePlan from the protocols that apply (PlanDefinitions
 * from the store, so edits through the API apply: transitional care for every discharge, disease
 * protocols selected by the discharge diagnoses); a Task per protocol action with its due date
 * (home monitoring becomes a standing CarePlan activity); medication reminders and lab re-checks
 * from the discharge orders; and a Provenance naming the protocol versions and the inputs. Every
 * resource is keyed on the encounter, so replaying the event (or the HL7 message) writes nothing
 * new, a corrected encounter or a later order updates them, and what happened since is kept.
 *
 * Runs as internal subscribers of the subscription engine (at least once; in order per encounter).
 */
import type { Bundle, BundleEntry, CarePlan, CarePlanActivity, Condition, Encounter, Extension, MedicationRequest, Observation, PlanDefinition, PlanDefinitionAction, Provenance, Quantity, Reference, Resource, RiskAssessment, ServiceRequest, Task } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Clock } from '../../clock/clock.ts';
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
import type { ProtocolCache } from './protocols.ts';
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
  /** The active protocols (PlanDefinitions), cached. */
  protocols: ProtocolCache;
  /** "Now" for the backfill limit (the test clock under CAREBRIDGE_TEST_CLOCK). */
  clock: Clock;
  /** Discharges that ended more than this many days ago get no plan (FOLLOWUP_BACKFILL_DAYS). */
  backfillDays: number;
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

const PRIORITY_RANK: Record<string, number> = { routine: 0, urgent: 1, asap: 2, stat: 3 };
const CLOSED_FOR_ORDER = /^order /;

/**
 * What people and later events changed on a Task or CarePlan the engine wrote, kept when the
 * follow-up is made again (an order after the discharge, a corrected encounter): a Task's status
 * and outcome, notes, owner, a priority raised or a due date brought forward; a CarePlan's status,
 * extensions (per-patient thresholds), notes and care team. The rest follows the new inputs.
 */
export function keepProgress<T extends Resource>(fresh: T, existing: Resource | undefined): T {
  if (fresh.resourceType === 'Task' && existing?.resourceType === 'Task') {
    const task = { ...(fresh as Task) };
    // A Task closed because its order was withdrawn reopens when the order is active again.
    const reopened = existing.status === 'cancelled' && CLOSED_FOR_ORDER.test(existing.statusReason?.text ?? '');
    if (!reopened) {
      if (existing.status) task.status = existing.status;
      if (existing.statusReason) task.statusReason = existing.statusReason;
    }
    if (existing.businessStatus) task.businessStatus = existing.businessStatus;
    if (existing.output) task.output = existing.output;
    if (existing.executionPeriod) task.executionPeriod = existing.executionPeriod;
    if (existing.note) task.note = existing.note;
    if (existing.owner) task.owner = existing.owner;
    if ((PRIORITY_RANK[existing.priority ?? ''] ?? 0) > (PRIORITY_RANK[task.priority ?? ''] ?? 0)) task.priority = existing.priority;
    const before = existing.restriction?.period?.end;
    const now = task.restriction?.period?.end;
    if (existing.note?.length && before && now && before < now) task.restriction = existing.restriction;
    return task as T;
  }
  if (fresh.resourceType === 'CarePlan' && existing?.resourceType === 'CarePlan') {
    const plan = { ...(fresh as CarePlan), status: existing.status };
    if (existing.extension) plan.extension = existing.extension;
    if (existing.note) plan.note = existing.note;
    if (existing.careTeam) plan.careTeam = existing.careTeam;
    if (existing.author) plan.author = existing.author;
    return plan as T;
  }
  return fresh;
}

class Entries {
  readonly entries: BundleEntry[] = [];
  /** The Tasks and CarePlan written for this encounter before, by `system|value` of their identifier. */
  readonly #existing: ReadonlyMap<string, Resource>;
  constructor(existing: ReadonlyMap<string, Resource>) {
    this.#existing = existing;
  }
  upsert<T extends Resource>(resource: T, system: string, value: string, fullUrl = `urn:uuid:${randomUUID()}`): Reference<T> {
    const url = `${resource.resourceType}?identifier=${encodeURIComponent(`${system}|${value}`)}`;
    const kept = keepProgress(resource, this.#existing.get(`${system}|${value}`));
    this.entries.push({ fullUrl, resource: { ...kept, identifier: [{ system, value }] } as Resource, request: { method: 'PUT', url } });
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

/** The follow-up of a discharge, from the Encounter's events. */
export function dischargeHandler(deps: DischargeDeps): (event: InternalEvent) => Promise<void> {
  return async (event) => {
    if (event.interaction === 'delete') return;
    await followUpDischarge(deps, event.resource as Encounter | undefined);
  };
}

/** The criteria of the discharge-order subscriber: orders of any encounter (the handler keeps discharges'). */
export const DISCHARGE_ORDER_CRITERIA = ['MedicationRequest', 'ServiceRequest'] as const;

/**
 * Discharge orders that arrive after the discharge (an RDE after the A03, a re-check ordered
 * the next day, a cancelled order): the follow-up of their encounter is made again — it is
 * idempotent — so new orders get their reminders and re-check Tasks and withdrawn ones lose them.
 * Orders of an encounter still in progress wait for its discharge, which reads them all.
 */
export function dischargeOrderHandler(deps: DischargeDeps): (event: InternalEvent) => Promise<void> {
  return async (event) => {
    const order = event.resource as MedicationRequest | ServiceRequest | undefined;
    const reference = order?.encounter?.reference;
    if (!reference?.startsWith('Encounter/')) return;
    let encounter: Encounter;
    try {
      encounter = JSON.parse((await deps.store.read('Encounter', reference.slice('Encounter/'.length))).content as string) as Encounter;
    } catch {
      return; // an order for an encounter this store does not have (or no longer has)
    }
    if (encounter.status === 'finished' && encounter.class?.code === 'IMP') await followUpDischarge(deps, encounter);
  };
}

const DAY = 86_400_000;

const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const WITHDRAWN_MEDICATION = new Set(['cancelled', 'stopped', 'entered-in-error']);
const WITHDRAWN_SERVICE = new Set(['revoked', 'entered-in-error']);
const OPEN_TASK = new Set(['requested', 'accepted', 'in-progress']);

/** The orders of a stay that shape its follow-up, and those since withdrawn or done. */
export interface DischargeOrders {
  medications: Array<MedicationRequest & { id: string }>;
  /** Laboratory ServiceRequests (category 108252007 or a LOINC code): each a lab re-check Task. */
  labOrders: Array<ServiceRequest & { id: string }>;
  /** By order reference: withdrawn (its open Tasks → cancelled) or, a lab order, completed (→ completed). */
  ended: Map<string, { status: 'cancelled' | 'completed'; reason: string }>;
}

const isLabOrder = (request: ServiceRequest) =>
  (request.category ?? []).some((c) => c.coding?.some((x) => (x.system === SNOMED && x.code === '108252007') || x.code?.toLowerCase() === 'laboratory' || x.code === 'LAB')) ||
  (request.code?.coding ?? []).some((c) => c.system === LOINC);

async function dischargeOrders(store: FhirStore, encounterId: string): Promise<DischargeOrders> {
  const of = new URLSearchParams({ encounter: `Encounter/${encounterId}` });
  const medications = (await searchAll(store, 'MedicationRequest', of)).map((v) => JSON.parse(v.content as string) as MedicationRequest & { id: string });
  const services = (await searchAll(store, 'ServiceRequest', of)).map((v) => JSON.parse(v.content as string) as ServiceRequest & { id: string }).filter(isLabOrder);
  const ended: DischargeOrders['ended'] = new Map();
  for (const m of medications) if (WITHDRAWN_MEDICATION.has(m.status)) ended.set(`MedicationRequest/${m.id}`, { status: 'cancelled', reason: `order ${m.status}` });
  for (const r of services) {
    if (WITHDRAWN_SERVICE.has(r.status)) ended.set(`ServiceRequest/${r.id}`, { status: 'cancelled', reason: `order ${r.status}` });
    else if (r.status === 'completed') ended.set(`ServiceRequest/${r.id}`, { status: 'completed', reason: 'order completed' });
  }
  return {
    medications: medications.filter((m) => m.status === 'active'),
    labOrders: services.filter((r) => r.status === 'active'),
    ended,
  };
}

/** When a lab order wants its test: the occurrence (date, period, timing event or bounds), else undefined. */
export function labOrderDue(request: ServiceRequest, dischargeDate: string): string | undefined {
  const local = (instant: string | undefined) => instant?.slice(0, 10);
  if (request.occurrenceDateTime) return local(request.occurrenceDateTime);
  if (request.occurrencePeriod) return local(request.occurrencePeriod.end ?? request.occurrencePeriod.start);
  const timing = request.occurrenceTiming;
  if (timing?.event?.length) return local([...timing.event].sort()[0]);
  const bounds = timing?.repeat?.boundsPeriod;
  if (bounds) return local(bounds.end ?? bounds.start);
  const duration = timing?.repeat?.boundsDuration;
  const days = duration?.value === undefined ? undefined : ({ d: 1, wk: 7, mo: 30 } as Record<string, number>)[duration.code ?? duration.unit ?? ''];
  return days === undefined ? undefined : addDays(dischargeDate, Math.round((duration?.value ?? 0) * days));
}

/** The follow-up of one discharged inpatient encounter, as one idempotent transaction. */
export async function followUpDischarge(deps: DischargeDeps, encounter: Encounter | undefined): Promise<void> {
  if (!encounter?.id || encounter.status !== 'finished' || encounter.class?.code !== 'IMP') return;
  const patient = encounter.subject;
  const start = encounter.period?.start;
  const end = encounter.period?.end;
  if (!patient?.reference || !start || !end) {
    deps.logger.warn({ encounter: encounter.id }, 'discharge without a patient or an admission/discharge time: no follow-up generated');
    return;
  }
  if (Date.parse(end) < deps.clock.now().getTime() - deps.backfillDays * DAY) {
    // An old discharge (a first import of history, a late correction): no plan to act on now.
    deps.logger.info({ encounter: encounter.id, dischargedAt: end, backfillDays: deps.backfillDays }, 'discharge older than FOLLOWUP_BACKFILL_DAYS: no follow-up generated');
    return;
  }
  const conditions = (await searchAll(deps.store, 'Condition', new URLSearchParams({ encounter: `Encounter/${encounter.id}` }))).map((v) => JSON.parse(v.content as string) as Condition);
  // Discharge orders: the medication of the stay (HL7 RDE/OMP with the visit in PV1) and the
  // service requests; active ones get reminders and re-checks, withdrawn ones lose theirs.
  const orders = await dischargeOrders(deps.store, encounter.id);
  // Protocols from the store (cached; a PlanDefinition write through the API clears the cache).
  const protocols = selectProtocols(await deps.protocols.active(), icd10Codes(conditions));
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
  const bundle = build(deps, encounter as Encounter & { id: string }, patient, protocols, conditions, scores, end, orders, await writtenBefore(deps.store, encounter.id));
  await runTransaction(deps.fhir, deps.store, bundle);
  deps.logger.info({ encounter: encounter.id, lace: lace.total, hospital: hospital?.total }, 'discharge follow-up generated');
}

/** What earlier runs wrote for this encounter: its Tasks, and those and the CarePlan by `system|value` of their identifier. */
interface WrittenBefore {
  byIdentifier: Map<string, Resource>;
  tasks: Array<Task & { id: string }>;
}

async function writtenBefore(store: FhirStore, encounterId: string): Promise<WrittenBefore> {
  const byIdentifier = new Map<string, Resource>();
  const plans = (await findMatches(store, 'CarePlan', new URLSearchParams({ identifier: `${BASE}/NamingSystem/care-plan|${encounterId}` }), 1)).map((v) => JSON.parse(v.content as string) as CarePlan);
  const tasks = (await searchAll(store, 'Task', new URLSearchParams({ encounter: `Encounter/${encounterId}` }))).map((v) => JSON.parse(v.content as string) as Task & { id: string });
  for (const resource of [...plans, ...tasks]) {
    for (const id of resource.identifier ?? []) if (id.system?.startsWith(`${BASE}/NamingSystem/`)) byIdentifier.set(`${id.system}|${id.value}`, resource);
  }
  return { byIdentifier, tasks };
}

function build(deps: DischargeDeps, encounter: Encounter & { id: string }, patient: Reference, protocols: PlanDefinition[], conditions: Condition[], scores: Score[], dischargedAt: string, orders: DischargeOrders, existing: WrittenBefore): Bundle {
  const e = new Entries(existing.byIdentifier);
  const medications = orders.medications;
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

  // Lab re-checks the orders ask for directly (a ServiceRequest of the stay, e.g. a blood count in 7 days).
  const ordered = orders.labOrders.map((request) => {
    const test = request.code?.coding?.find((c) => c.system === LOINC) ?? request.code?.coding?.[0];
    const name = request.code?.text ?? test?.display ?? test?.code ?? 'laboratory test';
    const due = labOrderDue(request, dischargeDate);
    return e.upsert<Task>(
      {
        resourceType: 'Task',
        basedOn: [{ reference: carePlanUrl }, { reference: `ServiceRequest/${request.id}` }],
        status: 'requested',
        intent: 'plan',
        priority: request.priority === 'stat' || request.priority === 'asap' || request.priority === 'urgent' ? 'urgent' : 'routine',
        code: { coding: [{ system: TASK_TYPE, code: 'lab-recheck' }], text: `Re-check ${name}` },
        description: `${name}${due ? ` by ${due}` : ''} (ordered at discharge)`,
        focus: { reference: `ServiceRequest/${request.id}` },
        for: patient,
        encounter: encounterRef,
        authoredOn: dischargedAt,
        ...(due ? { restriction: { period: { end: due } } } : {}),
        ...(request.performer?.[0] ? { owner: request.performer[0] } : encounter.serviceProvider ? { owner: encounter.serviceProvider } : {}),
        ...(test ? { input: [{ type: { text: 'test' }, valueCoding: test }] } : {}),
      },
      `${BASE}/NamingSystem/task`,
      `${key}#service-request#${request.id}`,
    );
  });
  // Tasks of orders withdrawn (or, for lab orders, done) since the last run: closed, with the reason.
  for (const task of existing.tasks) {
    const end = orders.ended.get(task.focus?.reference ?? '');
    if (!end || !OPEN_TASK.has(task.status)) continue;
    const { meta: _meta, ...rest } = task;
    e.put({ ...rest, status: end.status, statusReason: { text: end.reason } });
  }

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
      activity: [...[...tasks, ...reminders, ...rechecks, ...ordered].map((reference) => ({ reference })), ...monitoring],
    },
    `${BASE}/NamingSystem/care-plan`,
    key,
    carePlanUrl,
  );
  const provenance: Provenance & { id: string } = {
    resourceType: 'Provenance',
    id: `follow-up-${key}`,
    target: [carePlan, ...risks, ...tasks, ...reminders, ...rechecks, ...ordered, ...components],
    // Deterministic (the discharge time), so a replay leaves the Provenance unchanged.
    recorded: /T\d{2}:\d{2}:\d{2}/.test(dischargedAt) ? dischargedAt : `${dischargedAt.slice(0, 10)}T00:00:00Z`,
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler' }] }, who: { display: 'CareBridge follow-up engine' } }],
    entity: [
      { role: 'source', what: { reference: `Encounter/${encounter.id}/_history/${encounter.meta?.versionId ?? '1'}` } },
      ...protocols.map((p) => ({ role: 'derivation' as const, what: { reference: `PlanDefinition/${p.id}`, display: canonicalOf(p) } })),
      ...conditionRefs.map((what) => ({ role: 'source' as const, what })),
      ...[...orders.medications.map((m) => `MedicationRequest/${m.id}`), ...orders.labOrders.map((r) => `ServiceRequest/${r.id}`)].map((reference) => ({ role: 'source' as const, what: { reference } })),
    ],
  };
  e.put(provenance);
  return e.bundle();
}
