/**
 * A patient's adherence per drug class over a period (issue 6): the fills from the patient's
 * MedicationDispenses (whenHandedOver, daysSupply), or — when there are none — from the
 * MedicationRequests' expected supply (validity start or authoredOn, expectedSupplyDuration),
 * grouped by drug class and measured with the proportion of days covered (pdc.ts).
 * The class is the ATC chemical subgroup (5 characters) when the medication has an ATC code,
 * else the medication's own code. Used by `Patient/{id}/$adherence` and the follow-up sweep.
 */
import type { CodeableConcept, Coding, MedicationDispense, MedicationRequest } from '@medplum/fhirtypes';
import { searchAll } from '../../fhir/index.ts';
import type { FhirStore } from '../../fhir/index.ts';
import { ADHERENT_PDC, proportionOfDaysCovered } from './pdc.ts';
import type { Fill, PdcResult } from './pdc.ts';

const ATC = 'http://www.whocc.no/atc';
const DAY = 86_400_000;

export interface ClassAdherence extends PdcResult {
  drugClass: Coding;
  adherent: boolean;
  /** Where the fills came from. */
  source: 'MedicationDispense' | 'MedicationRequest';
}

/** Supply in days from a Duration/Quantity (d, wk, mo); undefined for other units. */
function days(quantity: { value?: number; code?: string; unit?: string } | undefined): number | undefined {
  if (quantity?.value === undefined) return undefined;
  const unit = (quantity.code ?? quantity.unit ?? 'd').toLowerCase();
  const factor = unit === 'd' || unit.startsWith('day') || unit === '天' ? 1 : unit === 'wk' || unit.startsWith('week') || unit === '周' ? 7 : unit === 'mo' || unit.startsWith('month') || unit === '月' ? 30 : undefined;
  return factor === undefined ? undefined : Math.round(quantity.value * factor);
}

export function drugClassOf(concept: CodeableConcept | undefined): Coding | undefined {
  const atc = concept?.coding?.find((c) => c.system === ATC && c.code);
  if (atc?.code) return { system: ATC, code: atc.code.slice(0, 5), ...(atc.code.length <= 5 && atc.display ? { display: atc.display } : {}) };
  const first = concept?.coding?.find((c) => c.code);
  const display = first?.display ?? concept?.text;
  return first && { system: first.system, code: first.code, ...(display ? { display } : {}) };
}

/**
 * PDC per drug class for `patient` (a `Patient/{id}` reference) over [start, end] (dates,
 * inclusive). Fills that end before `start` are not read back further than a year.
 */
export async function patientAdherence(store: FhirStore, patient: string, period: { start: string; end: string }): Promise<ClassAdherence[]> {
  const lookBack = new Date(Date.parse(`${period.start}T00:00:00Z`) - 365 * DAY).toISOString().slice(0, 10);
  const fills = new Map<string, { drugClass: Coding; fills: Fill[] }>();
  const add = (drugClass: Coding | undefined, date: string | undefined, supply: number | undefined) => {
    const on = date?.slice(0, 10);
    if (!drugClass?.code || !on || !supply || on < lookBack || on > period.end) return;
    const key = `${drugClass.system}|${drugClass.code}`;
    const entry = fills.get(key) ?? { drugClass, fills: [] };
    entry.fills.push({ date: on, daysSupply: supply });
    fills.set(key, entry);
  };
  const dispenses = (await searchAll(store, 'MedicationDispense', new URLSearchParams({ subject: patient, status: 'completed' }))).map((v) => JSON.parse(v.content as string) as MedicationDispense);
  for (const d of dispenses) add(drugClassOf(d.medicationCodeableConcept), d.whenHandedOver, days(d.daysSupply));
  const source = dispenses.length ? 'MedicationDispense' : 'MedicationRequest';
  if (!dispenses.length) {
    const requests = (await searchAll(store, 'MedicationRequest', new URLSearchParams({ subject: patient, status: 'active,completed' }))).map((v) => JSON.parse(v.content as string) as MedicationRequest);
    for (const r of requests) add(drugClassOf(r.medicationCodeableConcept), r.dispenseRequest?.validityPeriod?.start ?? r.authoredOn, days(r.dispenseRequest?.expectedSupplyDuration));
  }
  return [...fills.values()].flatMap(({ drugClass, fills: list }) => {
    const result = proportionOfDaysCovered(list, period.end, period.start);
    return result ? [{ ...result, drugClass, adherent: result.pdc >= ADHERENT_PDC, source }] : [];
  });
}
