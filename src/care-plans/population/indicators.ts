/**
 * The population view for doctors (issue 6): of a practitioner's patients — those whose
 * generalPractitioner or an active CareTeam includes the practitioner, optionally only those of an
 * organisation, optionally only those under a protocol — how many are managed, how many had an
 * HbA1c in the last 90 days and how many of those are at target (latest < 7.0 %), how many have
 * their blood pressure controlled (latest reading of the last 12 months < 140/90 mmHg), and how
 * many are managed per the national standard (≥ 4 follow-up records in the last 12 months).
 * Served as `GET /fhir/$follow-up-indicators?practitioner=Practitioner/{id}` (see operations/).
 */
import type { CarePlan, CareTeam, Observation, Patient, Quantity } from '@medplum/fhirtypes';
import { findMatches, searchAll } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';
import { BASE } from '../discharge/discharge-follow-up.ts';
import { FOLLOW_UP_QUESTIONNAIRE } from '../follow-up/record.ts';

export interface IndicatorScope {
  /** `Practitioner/{id}`. */
  practitioner?: string;
  /** `Organization/{id}`. */
  organization?: string;
  /** A PlanDefinition id (hypertension, type-2-diabetes, …): only patients with an active plan from it. */
  protocol?: string;
}

export interface Indicators {
  managed: number;
  hba1cTested90d: number;
  hba1cAtTarget: number;
  bpControlled: number;
  managedPerStandard: number;
}

const DAY = 86_400_000;
const LOINC = 'http://loinc.org';
/** HbA1c: NGSP % (4548-4, 17856-6, 4549-2) and IFCC mmol/mol (59261-8). */
const HBA1C_CODES = ['4548-4', '17856-6', '4549-2', '59261-8'];
const BP_CODES = ['85354-9', '55284-4', '8480-6', '8462-4'];
export const HBA1C_TARGET_PERCENT = 7.0;
export const BP_TARGET = { systolic: 140, diastolic: 90 };

const parse = <T>(content: string | null): T => JSON.parse(content as string) as T;
const codes = (list: readonly string[]) => list.map((c) => `${LOINC}|${c}`).join(',');

/** HbA1c in NGSP %, converting IFCC mmol/mol (% = mmol/mol ÷ 10.929 + 2.15); undefined for other units. */
export function hba1cPercent(quantity: Quantity | undefined): number | undefined {
  if (quantity?.value === undefined) return undefined;
  const unit = quantity.code ?? quantity.unit ?? '%';
  if (unit === '%') return quantity.value;
  if (unit === 'mmol/mol') return quantity.value / 10.929 + 2.15;
  return undefined;
}

function loincValue(observation: Observation, code: string): number | undefined {
  const own = observation.code?.coding?.some((c) => c.system === LOINC && c.code === code) ? observation.valueQuantity?.value : undefined;
  return own ?? observation.component?.find((c) => c.code?.coding?.some((x) => x.system === LOINC && x.code === code))?.valueQuantity?.value;
}

/** Controlled: every pressure the reading has is under target; undefined when it has none. */
export function bpControlled(observation: Observation): boolean | undefined {
  const sbp = loincValue(observation, '8480-6');
  const dbp = loincValue(observation, '8462-4');
  if (sbp === undefined && dbp === undefined) return undefined;
  return (sbp === undefined || sbp < BP_TARGET.systolic) && (dbp === undefined || dbp < BP_TARGET.diastolic);
}

const subjectsOf = (teams: readonly CareTeam[]) => teams.map((t) => t.subject?.reference).filter((r): r is string => !!r?.startsWith('Patient/'));

/** `Patient/{id}` references of the patients a practitioner or an organisation looks after. */
async function patientsOf(store: FhirStore, member: string, organization: boolean): Promise<Set<string>> {
  const found = new Set<string>();
  const patients = async (params: URLSearchParams) => (await searchAll(store, 'Patient', params)).map((v) => `Patient/${parse<Patient & { id: string }>(v.content).id}`);
  for (const p of await patients(new URLSearchParams({ 'general-practitioner': member }))) found.add(p);
  if (organization) for (const p of await patients(new URLSearchParams({ organization: member }))) found.add(p);
  const teams = (await searchAll(store, 'CareTeam', new URLSearchParams({ participant: member, status: 'active' }))).map((v) => parse<CareTeam>(v.content));
  for (const p of subjectsOf(teams)) found.add(p);
  return found;
}

export async function populationIndicators(store: FhirStore, scope: IndicatorScope, now: Date): Promise<Indicators> {
  let population: Set<string> | undefined;
  if (scope.practitioner) population = await patientsOf(store, scope.practitioner, false);
  if (scope.organization) {
    const ofOrganization = await patientsOf(store, scope.organization, true);
    population = population ? new Set([...population].filter((p) => ofOrganization.has(p))) : ofOrganization;
  }
  let patients = [...(population ?? [])].sort();
  if (scope.protocol) {
    const prefix = `${BASE}/PlanDefinition/${scope.protocol}|`;
    const under: string[] = [];
    for (const patient of patients) {
      const plans = (await findMatches(store, 'CarePlan', new URLSearchParams({ subject: patient, status: 'active' }), 100)).map((v) => parse<CarePlan>(v.content));
      if (plans.some((p) => p.instantiatesCanonical?.some((c) => c.startsWith(prefix)))) under.push(patient);
    }
    patients = under;
  }
  const ninetyDays = new Date(now.getTime() - 90 * DAY).toISOString();
  const year = new Date(now.getTime() - 365 * DAY).toISOString();
  const result: Indicators = { managed: patients.length, hba1cTested90d: 0, hba1cAtTarget: 0, bpControlled: 0, managedPerStandard: 0 };
  for (const patient of patients) {
    const latest = async (codeList: readonly string[], since: string) => {
      const [found] = await findMatches(store, 'Observation', new URLSearchParams([['subject', patient], ['code', codes(codeList)], ['date', `ge${since}`], ['date', `le${now.toISOString()}`], ['status', 'final,amended,corrected'], ['_sort', '-date']]), 1);
      return found ? parse<Observation>(found.content) : undefined;
    };
    const hba1c = await latest(HBA1C_CODES, ninetyDays);
    if (hba1c) {
      result.hba1cTested90d++;
      const percent = hba1cPercent(hba1c.valueQuantity);
      if (percent !== undefined && percent < HBA1C_TARGET_PERCENT) result.hba1cAtTarget++;
    }
    const bp = await latest(BP_CODES, year);
    if (bp && bpControlled(bp)) result.bpControlled++;
    const records = await findMatches(store, 'QuestionnaireResponse', new URLSearchParams([['subject', patient], ['questionnaire', FOLLOW_UP_QUESTIONNAIRE], ['status', 'completed'], ['authored', `ge${year}`]]), 4);
    if (records.length >= 4) result.managedPerStandard++;
  }
  return result;
}
