/**
 * Urgent home or lab values → a high-priority alert Task within seconds (issue 6): an internal
 * subscriber on new Observations checks them against the threshold table, and body weights against
 * the heart-failure rule (a gain of more than 2 kg within 3 days) and heart rates against the
 * persistent-tachycardia rule (3 readings above 100/min within 24 hours); each breach becomes a
 * Task (`Task.code` alert, priority from the rule — `stat` for urgent-referral values), for the
 * patient, focused on the Observation, based on the patient's active CarePlan when there is one.
 * Keyed on the observation and rule, so a repeated event writes nothing new.
 */
import type { Bundle, CarePlan, Extension, Observation, PlanDefinition, Task } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { ProtocolCache } from '../discharge/protocols.ts';
import { findMatches, runTransaction } from '../../fhir/index.ts';
import type { FhirStore, TransactionContext } from '../../fhir/index.ts';
import type { ObservationStep } from '../observation-follow-up.ts';
import { PatientCareRecords } from '../patient-care-records.ts';
import { BASE } from '../discharge/discharge-follow-up.ts';
import { findBreaches } from './thresholds.ts';
import type { Breach, ThresholdRule, ThresholdTable } from './thresholds.ts';

export interface AlertDeps {
  store: FhirStore;
  fhir: TransactionContext;
  logger: Logger;
  thresholds: ThresholdTable;
  /** The protocols (their threshold overrides), cached; read from the store when absent. */
  protocols?: Pick<ProtocolCache, 'byId'>;
}

const format = (n: number) => String(Math.round(n * 10) / 10);

/** Heart-failure weight rule (ESC HFA; reference/clinical-rules.md §4): a gain of more than 2 kg within 3 days. */
const WEIGHT_GAIN_RULE: ThresholdRule = { id: 'weight-gain-3d', label: 'Weight gain > 2 kg in 3 days (heart failure)', codes: ['29463-7'], unit: 'kg', priority: 'urgent' };

async function weightGain(store: FhirStore, observation: Observation, patient: string): Promise<Breach | undefined> {
  const isWeight = observation.code?.coding?.some((c) => c.system === 'http://loinc.org' && c.code === '29463-7');
  const kg = observation.valueQuantity?.code === 'kg' || observation.valueQuantity?.unit === 'kg' ? observation.valueQuantity.value : undefined;
  const when = observation.effectiveDateTime;
  if (!isWeight || kg === undefined || !when) return undefined;
  const from = new Date(Date.parse(when) - 3 * 86_400_000).toISOString();
  const earlier = await findMatches(store, 'Observation', new URLSearchParams([['subject', patient], ['code', 'http://loinc.org|29463-7'], ['date', `ge${from}`], ['date', `lt${when}`], ['_count', '50']]), 50);
  const weights = earlier.map((v) => (JSON.parse(v.content as string) as Observation).valueQuantity).filter((q) => q?.value !== undefined && (q.code === 'kg' || q.unit === 'kg')).map((q) => q!.value as number);
  if (!weights.length) return undefined;
  const gained = kg - Math.min(...weights);
  return gained > 2 ? { rule: WEIGHT_GAIN_RULE, code: '29463-7', value: gained, original: observation.valueQuantity! } : undefined;
}

/** 规范 diabetes list (reference/clinical-rules.md §1, §4): heart rate persistently > 100/min — here the last 3 readings within 24 hours, all above 100. */
const TACHYCARDIA_RULE: ThresholdRule = { id: 'heart-rate-persistent', label: 'Heart rate persistently > 100/min (3 readings in 24 h)', codes: ['8867-4'], unit: '/min', priority: 'urgent' };

async function persistentTachycardia(store: FhirStore, observation: Observation, patient: string): Promise<Breach | undefined> {
  const isRate = observation.code?.coding?.some((c) => c.system === 'http://loinc.org' && c.code === '8867-4');
  const rate = observation.valueQuantity?.value;
  const when = observation.effectiveDateTime;
  if (!isRate || rate === undefined || rate <= 100 || !when) return undefined;
  const from = new Date(Date.parse(when) - 86_400_000).toISOString();
  const earlier = await findMatches(store, 'Observation', new URLSearchParams([['subject', patient], ['code', 'http://loinc.org|8867-4'], ['date', `ge${from}`], ['date', `lt${when}`], ['_sort', '-date']]), 2);
  const previous = earlier.map((v) => (JSON.parse(v.content as string) as Observation).valueQuantity?.value);
  if (previous.length < 2 || previous.some((v) => v === undefined || v <= 100)) return undefined;
  return { rule: TACHYCARDIA_RULE, code: '8867-4', value: rate, original: observation.valueQuantity! };
}

export const THRESHOLD_EXTENSION = `${BASE}/StructureDefinition/threshold`;

/** Overrides in a resource's `threshold` extensions: rule id → bounds. */
function overridesOf(resource: { extension?: Extension[] }): Map<string, { atLeast?: number; atMost?: number }> {
  const out = new Map<string, { atLeast?: number; atMost?: number }>();
  for (const e of resource.extension ?? []) {
    if (e.url !== THRESHOLD_EXTENSION) continue;
    const part = (name: string) => e.extension?.find((x) => x.url === name);
    const rule = part('rule')?.valueString;
    if (!rule) continue;
    out.set(rule, { atLeast: part('atLeast')?.valueDecimal, atMost: part('atMost')?.valueDecimal });
  }
  return out;
}

/**
 * The thresholds for this patient: the default table, overridden by the protocols their active
 * plans instantiate (PlanDefinition `threshold` extensions), overridden by the plans themselves
 * (CarePlan `threshold` extensions: per patient). An override replaces the rule's bounds.
 */
async function effectiveThresholds(store: FhirStore, table: ThresholdTable, plans: readonly CarePlan[], protocols: AlertDeps['protocols']): Promise<ThresholdTable> {
  const overrides = new Map<string, { atLeast?: number; atMost?: number }>();
  const protocolIds = [...new Set(plans.flatMap((p) => p.instantiatesCanonical ?? []).map((c) => /\/PlanDefinition\/([^|/]+)/.exec(c)?.[1]).filter((id): id is string => !!id))];
  for (const id of protocolIds) {
    const protocol = protocols ? await protocols.byId(id) : await store.read('PlanDefinition', id).then((v) => JSON.parse(v.content as string) as PlanDefinition, () => undefined);
    if (protocol) for (const [rule, bounds] of overridesOf(protocol)) overrides.set(rule, bounds);
  }
  for (const plan of [...plans].reverse()) for (const [rule, bounds] of overridesOf(plan)) overrides.set(rule, bounds);
  if (!overrides.size) return table;
  return { ...table, rules: table.rules.map((r) => (overrides.has(r.id) ? { ...r, atLeast: undefined, atMost: undefined, ...dropUndefined(overrides.get(r.id)!) } : r)) };
}

const dropUndefined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** The LOINC codes of an observation and of its components. */
function loincCodes(observation: Observation): string[] {
  return [observation.code, ...(observation.component ?? []).map((c) => c.code)].flatMap((concept) => concept?.coding?.filter((c) => c.system === 'http://loinc.org' && c.code).map((c) => c.code as string) ?? []);
}

const coveredCodes = new WeakMap<ThresholdTable, Set<string>>();
/** Every code some alert rule looks at: the table's, the weight-gain and the heart-rate rules'. */
function ruleCodes(table: ThresholdTable): Set<string> {
  let codes = coveredCodes.get(table);
  if (!codes) coveredCodes.set(table, (codes = new Set([...table.rules.flatMap((r) => r.codes), ...WEIGHT_GAIN_RULE.codes, ...TACHYCARDIA_RULE.codes])));
  return codes;
}

export function observationAlertHandler(deps: AlertDeps): ObservationStep {
  return async (event, shared) => {
    // Local codes already carry their LOINC translations (observation-follow-up.ts).
    const observation = event.resource as Observation | undefined;
    if (!observation?.id || event.interaction === 'delete') return;
    const patient = observation.subject?.reference;
    if (!patient?.startsWith('Patient/')) return;
    // Most readings and lab results have no alert rule (temperature, haemoglobin…): no query for them.
    if (!loincCodes(observation).some((code) => ruleCodes(deps.thresholds).has(code))) return;
    const records = PatientCareRecords.of(deps.store, patient, shared);
    const plans = await records.activePlans();
    const breaches = findBreaches(observation, await effectiveThresholds(deps.store, deps.thresholds, plans, deps.protocols));
    const gain = await weightGain(deps.store, observation, patient);
    if (gain) breaches.push(gain);
    const pulse = await persistentTachycardia(deps.store, observation, patient);
    if (pulse) breaches.push(pulse);
    if (!breaches.length) return;
    const plan = plans[0];
    const when = observation.effectiveDateTime ?? observation.issued ?? observation.meta?.lastUpdated;
    const entries = breaches.map((b) => {
      const identifier = { system: `${BASE}/NamingSystem/alert`, value: `${observation.id}#${b.rule.id}` };
      const task: Task = {
        resourceType: 'Task',
        identifier: [identifier],
        status: 'requested',
        intent: 'order',
        priority: b.rule.priority,
        code: { coding: [{ system: `${BASE}/CodeSystem/task-type`, code: 'alert' }], text: b.rule.label },
        description: `${b.rule.label}: ${format(b.value)} ${b.rule.unit}${b.original.code && b.original.code !== b.rule.unit ? ` (${b.original.value} ${b.original.code})` : ''}`,
        for: { reference: patient },
        focus: { reference: `Observation/${observation.id}` },
        ...(plan ? { basedOn: [{ reference: `CarePlan/${plan.id}` }] } : {}),
        ...(when ? { authoredOn: when, restriction: { period: { end: when } } } : {}),
        input: [{ type: { text: 'threshold rule' }, valueString: `${b.rule.id} (thresholds ${deps.thresholds.version})` }],
      };
      return { resource: task, request: { method: 'PUT' as const, url: `Task?identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}` } };
    });
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
    await runTransaction(deps.fhir, deps.store, bundle);
    records.invalidate();
    deps.logger.info({ observation: observation.id, alerts: breaches.map((b) => b.rule.id) }, 'urgent value: alert task written');
  };
}
