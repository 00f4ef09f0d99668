/**
 * On discharge (an inpatient Encounter becomes finished), the follow-up for the episode, as one
 * idempotent transaction (issue 6): a LACE RiskAssessment with each component as an Observation,
 * one CarePlan from the transitional-care protocol (a PlanDefinition read from the store, so edits
 * through the API apply), a Task per protocol action with its due date, and a Provenance naming the
 * protocol version and the inputs. Every resource is keyed on the encounter, so replaying the event
 * (or the HL7 message) writes nothing new, and a corrected encounter updates them.
 *
 * Runs as an internal subscriber of the subscription engine (at least once, in order).
 */
import type { Bundle, BundleEntry, CarePlan, Condition, Encounter, Extension, Observation, PlanDefinition, PlanDefinitionAction, Provenance, Reference, Resource, RiskAssessment, Task } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { findMatches, runTransaction, searchAll } from '../../fhir/index.ts';
import type { FhirStore, TransactionContext } from '../../fhir/index.ts';
import type { InternalEvent } from '../../subscriptions/subscription-model.ts';
import { findComorbidities } from '../risk/comorbidity.ts';
import type { ComorbidityTable } from '../risk/comorbidity.ts';
import { laceScore } from '../risk/lace.ts';
import type { LaceResult } from '../risk/lace.ts';
import { lengthOfStayDays } from '../risk/length-of-stay.ts';
import { addBusinessDays, addDays } from './due-dates.ts';
import type { HolidayCalendar } from './due-dates.ts';

export const BASE = 'https://carebridge.dev/fhir';
export const TRANSITIONAL_CARE_ID = 'transitional-care';
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
    const protocol = JSON.parse((await deps.store.read('PlanDefinition', TRANSITIONAL_CARE_ID)).content as string) as PlanDefinition;
    const conditions = (await searchAll(deps.store, 'Condition', new URLSearchParams({ encounter: `Encounter/${encounter.id}` }))).map((v) => JSON.parse(v.content as string) as Condition);
    const sixMonthsBefore = new Date(Date.parse(start) - 183 * 86_400_000).toISOString();
    const edVisits = await findMatches(deps.store, 'Encounter', new URLSearchParams([['subject', patient.reference], ['class', `${ACT_CODE}|EMER`], ['date', `ge${sixMonthsBefore}`], ['date', `lt${start}`]]), 100);
    const acute = [...(encounter.priority?.coding ?? [])].some((c) => ACUTE_CODES.has((c.code ?? '').toUpperCase()));
    const lace = laceScore({
      lengthOfStayDays: lengthOfStayDays(start, end, deps.timeZone),
      acuteAdmission: acute,
      comorbidities: findComorbidities(icd10Codes(conditions), deps.comorbidities),
      emergencyVisits6Months: edVisits.length,
    });
    const bundle = build(deps, encounter as Encounter & { id: string }, patient, protocol, conditions, lace, end);
    await runTransaction(deps.fhir, deps.store, bundle);
    deps.logger.info({ encounter: encounter.id, lace: lace.total, band: lace.band }, 'discharge follow-up generated');
  };
}

function build(deps: DischargeDeps, encounter: Encounter & { id: string }, patient: Reference, protocol: PlanDefinition, conditions: Condition[], lace: LaceResult, dischargedAt: string): Bundle {
  const e = new Entries();
  const key = encounter.id;
  const canonical = `${protocol.url}|${protocol.version}`;
  const encounterRef = { reference: `Encounter/${encounter.id}` };
  const conditionRefs = conditions.map((c) => ({ reference: `Condition/${c.id}` }));
  const highRisk = lace.band === 'high';
  const labels = { L: 'length of stay', A: 'acute admission', C: 'comorbidity (Charlson conditions)', E: 'emergency visits in the 6 months before' } as const;
  const components = (Object.keys(lace.components) as Array<keyof typeof labels>).map((item) =>
    e.upsert<Observation>(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: `${BASE}/CodeSystem/risk-component`, code: `LACE-${item}`, display: `LACE ${item}: ${labels[item]}` }], text: `LACE ${item}: ${labels[item]}` },
        subject: patient as Reference<never>,
        encounter: encounterRef,
        effectiveDateTime: dischargedAt,
        valueInteger: lace.components[item],
      },
      `${BASE}/NamingSystem/risk-component`,
      `${key}#LACE#${item}`,
    ),
  );
  const risk = e.upsert<RiskAssessment>(
    {
      resourceType: 'RiskAssessment',
      extension: [{ url: `${BASE}/StructureDefinition/risk-score`, valueDecimal: lace.total }],
      status: 'final',
      method: { coding: [{ system: `${BASE}/CodeSystem/risk-method`, code: 'LACE', display: 'LACE index' }], text: `LACE index (${protocol.name} ${protocol.version})` },
      subject: patient as Reference<never>,
      encounter: encounterRef,
      occurrenceDateTime: dischargedAt,
      basis: [...components, encounterRef, ...conditionRefs],
      prediction: [{ outcome: { text: '30-day readmission' }, qualitativeRisk: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/risk-probability', code: lace.band }] } }],
    },
    `${BASE}/NamingSystem/risk-assessment`,
    `${key}#LACE`,
  );
  const dischargeDate = dischargedAt.slice(0, 10);
  const carePlanUrl = `urn:uuid:${randomUUID()}`;
  const tasks = (protocol.action ?? []).map((action) => {
    const due = dueDate(action, dischargeDate, highRisk, deps.calendar);
    return e.upsert<Task>(
      {
        resourceType: 'Task',
        instantiatesCanonical: canonical,
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
        reasonReference: risk,
      },
      `${BASE}/NamingSystem/task`,
      `${key}#${action.id ?? action.title}`,
    );
  });
  const carePlan = e.upsert<CarePlan>(
    {
      resourceType: 'CarePlan',
      instantiatesCanonical: [canonical],
      status: 'active',
      intent: 'plan',
      title: protocol.title,
      subject: patient as Reference<never>,
      encounter: encounterRef,
      period: { start: dischargedAt },
      addresses: conditionRefs,
      supportingInfo: [risk],
      activity: tasks.map((reference) => ({ reference })),
    },
    `${BASE}/NamingSystem/care-plan`,
    key,
    carePlanUrl,
  );
  const provenance: Provenance & { id: string } = {
    resourceType: 'Provenance',
    id: `follow-up-${key}`,
    target: [carePlan, risk, ...tasks, ...components],
    // Deterministic (the discharge time), so a replay leaves the Provenance unchanged.
    recorded: /T\d{2}:\d{2}:\d{2}/.test(dischargedAt) ? dischargedAt : `${dischargedAt.slice(0, 10)}T00:00:00Z`,
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler' }] }, who: { display: 'CareBridge follow-up engine' } }],
    entity: [
      { role: 'source', what: { reference: `Encounter/${encounter.id}/_history/${encounter.meta?.versionId ?? '1'}` } },
      { role: 'derivation', what: { reference: `PlanDefinition/${protocol.id}`, display: canonical } },
      ...conditionRefs.map((what) => ({ role: 'source' as const, what })),
    ],
  };
  e.put(provenance);
  return e.bundle();
}
