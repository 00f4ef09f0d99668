/**
 * The FHIR side of the subscription benchmark, through the public REST API only (what a client
 * does): the Observations written (vital signs with LOINC codes, one patient), and subscription
 * sets — created as `requested` classic R4 rest-hook subscriptions with a payload, waited for
 * until the engine has made every one `active`. Values stay inside the server's alert thresholds,
 * so the internal alert subscriber writes nothing extra.
 */
import { sleep } from '../lib/child-process.ts';
import { expectStatus } from '../lib/http-client.ts';
import type { HttpClient } from '../lib/http-client.ts';

export interface VitalSign {
  code: string;
  display: string;
  value: number;
  unit: string;
}

/** The codes subscriptions are put on: "all" uses the first; "spread" the first BENCH_SPREAD_CODES. */
export const CODES: readonly VitalSign[] = [
  { code: '8867-4', display: 'Heart rate', value: 72, unit: '/min' },
  { code: '9279-1', display: 'Respiratory rate', value: 16, unit: '/min' },
  { code: '8310-5', display: 'Body temperature', value: 36.8, unit: 'Cel' },
  { code: '59408-5', display: 'Oxygen saturation by pulse oximetry', value: 97, unit: '%' },
  { code: '8480-6', display: 'Systolic blood pressure', value: 120, unit: 'mm[Hg]' },
  { code: '8462-4', display: 'Diastolic blood pressure', value: 78, unit: 'mm[Hg]' },
  { code: '8302-2', display: 'Body height', value: 170, unit: 'cm' },
  { code: '39156-5', display: 'Body mass index', value: 23.5, unit: 'kg/m2' },
  { code: '8478-0', display: 'Mean blood pressure', value: 92, unit: 'mm[Hg]' },
  { code: '2339-0', display: 'Glucose', value: 5.4, unit: 'mmol/L' },
];

/** A code no bench write uses: subscriptions on it match nothing (the "subscribed but not matching" cost). */
export const NEVER_WRITTEN = '8287-5';

export const PATIENT_ID = 'bench-1';

export function observationBody(sign: VitalSign): string {
  return JSON.stringify({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: sign.code, display: sign.display }] },
    subject: { reference: `Patient/${PATIENT_ID}` },
    effectiveDateTime: new Date().toISOString(),
    valueQuantity: { value: sign.value, unit: sign.unit, system: 'http://unitsofmeasure.org', code: sign.unit },
  });
}

/** POSTs an Observation; returns its id (from the Location header, else the body). */
export async function createObservation(client: HttpClient, sign: VitalSign): Promise<string> {
  const reply = expectStatus(await client.request('POST', '/fhir/Observation', observationBody(sign)), 201, 'create Observation');
  const location = reply.headers.location;
  const fromLocation = location ? /\/Observation\/([^/]+)/.exec(location)?.[1] : undefined;
  return fromLocation ?? (JSON.parse(reply.body.toString('utf8')) as { id: string }).id;
}

export async function createPatient(client: HttpClient): Promise<void> {
  const body = JSON.stringify({ resourceType: 'Patient', id: PATIENT_ID, name: [{ family: 'Bench', given: ['Subscription'] }], gender: 'unknown' });
  const reply = await client.request('PUT', `/fhir/Patient/${PATIENT_ID}`, body);
  if (reply.status !== 200 && reply.status !== 201) expectStatus(reply, 201, 'create Patient');
}

/** One bench subscription: its FHIR id, its number in the set (the hook path) and the code it is on. */
export interface BenchSubscription {
  id: string;
  n: number;
  code: string;
}

async function inParallel<T>(items: readonly T[], workers: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(workers, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  }));
}

/**
 * Creates `count` subscriptions, number n on `codeOf(n)`, delivering to `{hookBase}/{n}` with an
 * application/fhir+json payload (so each delivery is a PUT to `{hookBase}/{n}/Observation/{id}`).
 */
export async function createSubscriptions(client: HttpClient, count: number, hookBase: string, codeOf: (n: number) => string, clients = 8): Promise<BenchSubscription[]> {
  const subs: BenchSubscription[] = [];
  await inParallel(Array.from({ length: count }, (_, n) => n), clients, async (n) => {
    const code = codeOf(n);
    const body = JSON.stringify({
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'bench',
      criteria: `Observation?code=http://loinc.org|${code}`,
      channel: { type: 'rest-hook', endpoint: `${hookBase}/${n}`, payload: 'application/fhir+json' },
    });
    const reply = expectStatus(await client.request('POST', '/fhir/Subscription', body), 201, 'create Subscription');
    subs.push({ id: (JSON.parse(reply.body.toString('utf8')) as { id: string }).id, n, code });
  });
  return subs.sort((a, b) => a.n - b.n);
}

/** Polls until the engine has set every subscription active; throws with the first problem after `timeoutMs`. */
export async function waitActive(client: HttpClient, subs: readonly BenchSubscription[], timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  let waiting = [...subs];
  let problem = '';
  while (waiting.length) {
    const still: BenchSubscription[] = [];
    await inParallel(waiting, 8, async (sub) => {
      const reply = expectStatus(await client.request('GET', `/fhir/Subscription/${sub.id}`), 200, 'read Subscription');
      const resource = JSON.parse(reply.body.toString('utf8')) as { status: string; error?: string };
      if (resource.status !== 'active') {
        still.push(sub);
        if (resource.status === 'error') problem = `Subscription/${sub.id} is in error: ${resource.error ?? '(no reason)'}`;
      }
    });
    waiting = still;
    if (!waiting.length) break;
    if (problem || performance.now() - started > timeoutMs) throw new Error(problem || `${waiting.length} subscription(s) not active after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
  return performance.now() - started;
}
