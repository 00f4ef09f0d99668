/**
 * The REST side of the follow-up benchmark, as a client sees it: the `CarePlan` subscription the
 * bench receives plans through (waited on until the engine makes it active, with
 * bench/subscriptions/fhir.ts), each admitted patient's FHIR id looked up by MRN, the home readings
 * a discharged patient's devices post, and the clinician's reads. Home readings stay inside the
 * alert thresholds except about 1 in 50 blood pressures, so a few alerts are raised as in practice,
 * not one per reading.
 */
import { expectStatus } from '../lib/http-client.ts';
import type { HttpClient } from '../lib/http-client.ts';
import { waitActive } from '../subscriptions/fhir.ts';

export const MRN_SYSTEM = 'urn:oid:2.16.156.10011.1.12';

const parse = <T>(body: Buffer): T => JSON.parse(body.toString('utf8')) as T;

/** Creates the classic rest-hook Subscription on every CarePlan (payload: the resource) and waits until it is active. */
export async function subscribeToCarePlans(client: HttpClient, endpoint: string): Promise<{ id: string; activationMs: number }> {
  const body = JSON.stringify({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'bench: discharge-to-care-plan latency',
    criteria: 'CarePlan',
    channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' },
  });
  const { id } = parse<{ id: string }>(expectStatus(await client.request('POST', '/fhir/Subscription', body), 201, 'create Subscription').body);
  const activationMs = await waitActive(client, [{ id, n: 0, code: 'CarePlan' }]);
  return { id, activationMs };
}

/** Each MRN's Patient id (`GET /fhir/Patient?identifier=…`), `workers` lookups at a time. */
export async function patientIds(client: HttpClient, mrns: readonly string[], workers = 8): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(workers, mrns.length) }, async () => {
    while (next < mrns.length) {
      const mrn = mrns[next++] as string;
      const reply = expectStatus(await client.request('GET', `/fhir/Patient?identifier=${encodeURIComponent(`${MRN_SYSTEM}|${mrn}`)}&_elements=identifier`), 200, `search Patient ${mrn}`);
      const bundle = parse<{ entry?: Array<{ resource?: { id?: string } }> }>(reply.body);
      const found = bundle.entry?.map((e) => e.resource?.id).filter((x): x is string => !!x) ?? [];
      if (found.length !== 1) throw new Error(`Patient with MRN ${mrn}: ${found.length} found, expected 1`);
      ids.set(mrn, found[0] as string);
    }
  }));
  return ids;
}

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const VITAL_SIGNS = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }];
const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });

/**
 * A home reading of one patient, cycling blood pressure panel (85354-9 with 8480-6 / 8462-4),
 * body weight (29463-7, within ±0.5 kg of the patient's own base, so no heart-failure weight-gain
 * alert) and blood glucose (2339-0). `i` picks the kind, `rand` the values.
 */
export function homeReading(patientId: string, i: number, rand: () => number, baseWeightKg: number): string {
  const common = { resourceType: 'Observation', status: 'final', category: VITAL_SIGNS, subject: { reference: `Patient/${patientId}` }, effectiveDateTime: new Date().toISOString() };
  const kind = i % 3;
  if (kind === 0) {
    const high = rand() < 0.02; // ≥ 180 mmHg: an urgent-referral alert
    return JSON.stringify({
      ...common,
      code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' }] },
      component: [
        { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: quantity(high ? 182 : Math.round(112 + rand() * 36), 'mm[Hg]') },
        { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] }, valueQuantity: quantity(Math.round(66 + rand() * 26), 'mm[Hg]') },
      ],
    });
  }
  if (kind === 1) {
    return JSON.stringify({ ...common, code: { coding: [{ system: LOINC, code: '29463-7', display: 'Body weight' }] }, valueQuantity: quantity(Math.round((baseWeightKg + (rand() - 0.5)) * 10) / 10, 'kg') });
  }
  return JSON.stringify({ ...common, code: { coding: [{ system: LOINC, code: '2339-0', display: 'Glucose [Mass/volume] in Blood' }] }, valueQuantity: quantity(Math.round((4.8 + rand() * 4.5) * 10) / 10, 'mmol/L') });
}

export async function postObservation(client: HttpClient, body: string): Promise<void> {
  expectStatus(await client.request('POST', '/fhir/Observation', body), 201, 'create Observation');
}

/** The clinician worklist: open follow-up Tasks, soonest due first, with their patients. */
export const WORKLIST_PATH = '/fhir/Task?status=requested&_include=Task:patient&_sort=period&_count=50';

export async function searchWorklist(client: HttpClient): Promise<void> {
  expectStatus(await client.request('GET', WORKLIST_PATH), 200, 'worklist search');
}

export async function readCarePlans(client: HttpClient, patientId: string): Promise<void> {
  expectStatus(await client.request('GET', `/fhir/CarePlan?subject=Patient/${encodeURIComponent(patientId)}`), 200, 'CarePlan search');
}
