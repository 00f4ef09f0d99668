/**
 * The follow-up sweep (issue 6, "Missed reports"), run by the scheduler (a recurring job, once
 * across server processes):
 *
 * - a patient expected to report — an active CarePlan with a home-monitoring activity — who has
 *   sent no Observation of that kind for `missedAfterDays` (default 3) gets a `missed-report` Task;
 *   when the data arrives the Task is completed (`resolveMissedReports`, an Observation subscriber);
 * - a follow-up Task (first contact, visit, follow-up) still open after its due date gets an
 *   `overdue` Task and its business status says overdue;
 * - adherence: the proportion of days covered per drug class (adherence/pdc.ts) over the last
 *   180 days is written as an Observation per patient and class (`adherence|PDC`, %); below 80 %
 *   an `adherence` Task.
 *
 * Every Task it writes is keyed (plan + code + start of the silence, task + overdue), so sweeping
 * again writes nothing new.
 */
import type { Bundle, BundleEntry, CarePlan, Coding, Observation, Task } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { findMatches, runTransaction, searchAll } from '../../fhir/index.ts';
import type { FhirStore, TransactionContext } from '../../fhir/index.ts';
import type { ObservationStep } from '../observation-follow-up.ts';
import { PatientCareRecords } from '../patient-care-records.ts';
import { patientAdherence } from '../adherence/patient-adherence.ts';
import { BASE } from '../discharge/discharge-follow-up.ts';

export interface SweepDeps {
  store: FhirStore;
  fhir: TransactionContext;
  logger: Logger;
  missedAfterDays: number;
  /** Fills looked at for adherence: those of the last this many days (default 180). */
  adherenceWindowDays?: number;
  /**
   * What the protocols monitor (the same array until they change): a reading that reports none of
   * it is not looked at on arrival (most are not reports; the sweep completes any it missed).
   */
  monitored?: () => Promise<readonly Coding[]>;
}

const TASK_TYPE = `${BASE}/CodeSystem/task-type`;
const LOINC = 'http://loinc.org';

/**
 * What counts as a report of a monitored measurement: the plan's code, or a LOINC code that
 * reports the same thing (a home device may send systolic and diastolic pressure separately, or a
 * glucometer its own glucose code).
 */
const REPORTED_AS: Record<string, readonly string[]> = {
  '85354-9': ['85354-9', '55284-4', '8480-6', '8462-4'],
  '2339-0': ['2339-0', '2345-7', '14743-9', '14749-6', '14770-2', '14771-0', '1558-6', '41653-7'],
};

const reportSets = new WeakMap<readonly Coding[], ReadonlySet<string>>();
/** Every system|code that reports one of `measured`, built once per array. */
function reportCodeSet(measured: readonly Coding[]): ReadonlySet<string> {
  let set = reportSets.get(measured);
  if (!set) reportSets.set(measured, (set = new Set(measured.flatMap(reportCodes))));
  return set;
}

/** The system|code search values that count as reports of `measured`. */
export function reportCodes(measured: { system?: string; code?: string }): string[] {
  const same = measured.system === LOINC && measured.code ? REPORTED_AS[measured.code] : undefined;
  return same ? same.map((code) => `${LOINC}|${code}`) : [`${measured.system}|${measured.code}`];
}
const FOLLOW_UP_TYPES = ['first-contact', 'visit', 'follow-up', 'lab-recheck'];
const DAY = 86_400_000;

const parse = <T>(content: string | null): T => JSON.parse(content as string) as T;
const typeOf = (task: Task) => task.code?.coding?.find((c) => c.system === TASK_TYPE)?.code;

function upsertTask(entries: BundleEntry[], identifierValue: string, task: Task): void {
  const system = `${BASE}/NamingSystem/task`;
  entries.push({ resource: { ...task, identifier: [{ system, value: identifierValue }] }, request: { method: 'PUT', url: `Task?identifier=${encodeURIComponent(`${system}|${identifierValue}`)}` } });
}

/** When a reading was taken (effective time, else issued), in ms; undefined when it has none. */
function reportedAt(observation: Observation): number | undefined {
  const when = observation.effectiveDateTime ?? observation.effectiveInstant ?? observation.effectivePeriod?.end ?? observation.effectivePeriod?.start ?? observation.issued;
  const ms = when ? Date.parse(when) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** One sweep at `now`; returns how many Tasks it wrote or changed. */
export async function sweep(deps: SweepDeps, now: Date): Promise<number> {
  const entries: BundleEntry[] = [];
  const today = now.toISOString().slice(0, 10);

  // Missed reports.
  const plans = (await searchAll(deps.store, 'CarePlan', new URLSearchParams({ status: 'active' }))).map((v) => parse<CarePlan & { id: string }>(v.content));
  for (const plan of plans) {
    const patient = plan.subject?.reference;
    const started = Date.parse(plan.period?.start ?? '');
    if (!patient || Number.isNaN(started)) continue;
    const monitored = (plan.activity ?? []).map((a) => (a.detail?.status === 'scheduled' ? { activity: a, measured: a.detail.code?.coding?.[0] } : undefined)).filter((m) => m?.measured?.code);
    if (!monitored.length) continue;
    const open = (await findMatches(deps.store, 'Task', new URLSearchParams([['based-on', `CarePlan/${plan.id}`], ['code', `${TASK_TYPE}|missed-report`], ['status', 'requested']]), 100)).map((v) => parse<Task & { id: string }>(v.content));
    for (const { activity, measured } of monitored as Array<{ activity: NonNullable<CarePlan['activity']>[number]; measured: Coding }>) {
      // Silent since the latest report up to now, or since the plan began: stable from one sweep to
      // the next, so one Task per silence (keyed by its start), and a late-processed old reading
      // cannot resolve it.
      const [latest] = await findMatches(deps.store, 'Observation', new URLSearchParams([['subject', patient], ['code', reportCodes(measured).join(',')], ['date', `le${now.toISOString()}`], ['_sort', '-date']]), 1);
      const lastReport = latest ? reportedAt(parse<Observation>(latest.content)) : undefined;
      const silentSince = new Date(Math.max(started, lastReport ?? -Infinity));
      // A missed report whose reading came (and was not matched on arrival — e.g. a code only a
      // plan edit made expected) is completed here.
      for (const task of open.filter((t) => t.input?.[0]?.valueCoding?.code === measured.code)) {
        const since = Date.parse(task.input?.find((i) => i.type?.text === 'silent since')?.valueDateTime ?? '');
        if (latest && lastReport !== undefined && lastReport > since) {
          const { meta: _meta, ...rest } = task;
          entries.push({ resource: { ...rest, status: 'completed', output: [{ type: { text: 'report' }, valueReference: { reference: `Observation/${latest.id}` } }] }, request: { method: 'PUT', url: `Task/${task.id}` } });
        }
      }
      if (now.getTime() - silentSince.getTime() < deps.missedAfterDays * DAY) continue;
      upsertTask(entries, `${plan.id}#missed#${measured.code}#${silentSince.toISOString()}`, {
        resourceType: 'Task',
        status: 'requested',
        intent: 'order',
        priority: 'routine',
        code: { coding: [{ system: TASK_TYPE, code: 'missed-report' }], text: `No ${measured.display ?? measured.code} reported for ${deps.missedAfterDays} days` },
        description: `${activity.detail?.description ?? measured.display}: nothing reported for ${deps.missedAfterDays} days`,
        for: { reference: patient },
        basedOn: [{ reference: `CarePlan/${plan.id}` }],
        input: [{ type: { text: 'expected report' }, valueCoding: measured }, { type: { text: 'silent since' }, valueDateTime: silentSince.toISOString() }],
      });
    }
  }

  // Adherence per drug class, for patients under an active plan.
  for (const patient of new Set(plans.map((p) => p.subject?.reference).filter((r): r is string => !!r?.startsWith('Patient/')))) {
    const plan = plans.find((p) => p.subject?.reference === patient)!;
    const period = { start: new Date(now.getTime() - (deps.adherenceWindowDays ?? 180) * DAY).toISOString().slice(0, 10), end: today };
    for (const result of await patientAdherence(deps.store, patient, period)) {
      const percent = Math.round(result.pdc * 1000) / 10;
      // '#', not '|': these keys become token search values in conditional writes.
      const classKey = `${result.drugClass.system}#${result.drugClass.code}`;
      entries.push({
        resource: {
          resourceType: 'Observation',
          identifier: [{ system: `${BASE}/NamingSystem/adherence`, value: `${patient}#${classKey}` }],
          status: 'final',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'therapy' }] }],
          code: { coding: [{ system: `${BASE}/CodeSystem/adherence`, code: 'PDC', display: 'Proportion of days covered' }], text: `PDC: ${result.drugClass.display ?? result.drugClass.code}` },
          subject: { reference: patient },
          effectivePeriod: { start: result.firstFill, end: today },
          valueQuantity: { value: percent, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
          component: [{ code: { text: 'drug class' }, valueCodeableConcept: { coding: [result.drugClass] } }],
        } satisfies Observation,
        request: { method: 'PUT', url: `Observation?identifier=${encodeURIComponent(`${BASE}/NamingSystem/adherence|${patient}#${classKey}`)}` },
      });
      if (!result.adherent) {
        upsertTask(entries, `${patient}#adherence#${classKey}`, {
          resourceType: 'Task',
          status: 'requested',
          intent: 'order',
          priority: 'routine',
          code: { coding: [{ system: TASK_TYPE, code: 'adherence' }], text: 'Low medication adherence' },
          // Stable text (the numbers are in the PDC Observation), so a daily sweep does not rewrite it.
          description: `${result.drugClass.display ?? result.drugClass.code}: medication adherence below 80 % (proportion of days covered)`,
          for: { reference: patient },
          basedOn: [{ reference: `CarePlan/${plan.id}` }],
          input: [{ type: { text: 'drug class' }, valueCoding: result.drugClass }],
        });
      }
    }
  }

  // Overdue follow-ups.
  const open = (await searchAll(deps.store, 'Task', new URLSearchParams([['status', 'requested,accepted,in-progress'], ['code', FOLLOW_UP_TYPES.map((t) => `${TASK_TYPE}|${t}`).join(',')]]))).map((v) => parse<Task & { id: string }>(v.content));
  for (const task of open) {
    const due = task.restriction?.period?.end;
    if (!due || due.slice(0, 10) >= today) continue;
    if (task.businessStatus?.coding?.[0]?.code !== 'overdue') {
      const { meta: _meta, ...rest } = task;
      entries.push({ resource: { ...rest, businessStatus: { coding: [{ system: `${BASE}/CodeSystem/task-business-status`, code: 'overdue' }], text: 'overdue' } }, request: { method: 'PUT', url: `Task/${task.id}` } });
    }
    upsertTask(entries, `${task.id}#overdue`, {
      resourceType: 'Task',
      status: 'requested',
      intent: 'order',
      priority: task.priority === 'routine' ? 'urgent' : (task.priority ?? 'urgent'),
      code: { coding: [{ system: TASK_TYPE, code: 'overdue' }], text: `Overdue: ${task.description ?? typeOf(task)}` },
      description: `${task.description ?? typeOf(task)} was due by ${due}`,
      for: task.for,
      focus: { reference: `Task/${task.id}` },
      basedOn: task.basedOn,
    });
  }
  if (!entries.length) return 0;
  const written = await runTransaction(deps.fhir, deps.store, { resourceType: 'Bundle', type: 'transaction', entry: entries } satisfies Bundle);
  const changed = written.filter((w) => w.status.startsWith('201') || w.versionId !== '1').length;
  if (changed) deps.logger.info({ changed }, 'follow-up sweep wrote tasks');
  return changed;
}

/** Completes a patient's open missed-report Tasks for a kind of Observation when one arrives. */
export function resolveMissedReports(deps: Pick<SweepDeps, 'store' | 'fhir' | 'monitored'>): ObservationStep {
  return async (event, shared) => {
    // Local codes already carry their LOINC translations (observation-follow-up.ts).
    const observation = event.resource as Observation | undefined;
    const patient = observation?.subject?.reference;
    if (!observation?.id || event.interaction === 'delete' || !patient?.startsWith('Patient/')) return;
    const codes = (observation.code?.coding ?? []).filter((c) => c.system && c.code);
    if (!codes.length) return;
    const monitored = deps.monitored && reportCodeSet(await deps.monitored());
    if (monitored && !codes.some((c) => monitored.has(`${c.system}|${c.code}`))) return;
    const records = PatientCareRecords.of(deps.store, patient, shared);
    const open = await records.openTasks('missed-report');
    const reported = new Set(codes.map((c) => `${c.system}|${c.code}`));
    const at = reportedAt(observation);
    const resolved = open.filter((t) => {
      const silentSince = Date.parse(t.input?.find((i) => i.type?.text === 'silent since')?.valueDateTime ?? '');
      // A reading from before the silence (processed late) does not end it.
      if (!Number.isNaN(silentSince) && at !== undefined && at <= silentSince) return false;
      return t.input?.some((i) => i.valueCoding && reportCodes(i.valueCoding).some((code) => reported.has(code)));
    });
    if (!resolved.length) return;
    const entries: BundleEntry[] = resolved.map((task) => {
      const { meta: _meta, ...rest } = task;
      return { resource: { ...rest, status: 'completed', output: [{ type: { text: 'report' }, valueReference: { reference: `Observation/${observation.id}` } }] }, request: { method: 'PUT', url: `Task/${task.id}` } };
    });
    await runTransaction(deps.fhir, deps.store, { resourceType: 'Bundle', type: 'transaction', entry: entries });
    records.invalidate();
  };
}
