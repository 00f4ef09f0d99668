// FHIR R4 compartment search (http://hl7.org/fhir/R4/search.html#compartment,
// http://hl7.org/fhir/R4/compartmentdefinition.html, membership per
// http://hl7.org/fhir/R4/compartmentdefinition-patient.html) and Patient/[id]/$everything
// (http://hl7.org/fhir/R4/patient-operation-everything.html: the patient, its compartment and what
// those refer to; _type, _since, _count with paging links per http://hl7.org/fhir/R4/http.html#paging).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import { link, sorted } from './helpers/bundles.ts';
import type { Json } from './helpers/bundles.ts';

const server = useTestServer();

const LOINC = 'http://loinc.org';

async function createFull(resource: Json): Promise<Json> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function create(resource: Json): Promise<string> {
  return (await createFull(resource)).id as string;
}

/** `path?a=1&b=2` with every name and value percent-encoded. */
const q = (path: string, ...pairs: Array<[string, string]>) => (pairs.length ? `${path}?${new URLSearchParams(pairs)}` : path);

const matches = (bundle: Json): Json[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode !== 'outcome' && e.search?.mode !== 'include');
const matchIds = (bundle: Json): string[] => matches(bundle).map((e) => e.resource.id as string);
/** Entries as `Type/id`. */
const keys = (bundle: Json): string[] => matches(bundle).map((e) => `${e.resource.resourceType}/${e.resource.id}`);

function relative(url: string): string {
  expect(url.startsWith(`${server.fhirBaseUrl}/`), url).toBe(true);
  return url.slice(server.fhirBaseUrl.length + 1);
}

async function get(path: string): Promise<Json> {
  const res = await server.fhir(path);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  expect(res.body.resourceType).toBe('Bundle');
  expect(res.body.type).toBe('searchset');
  return res.body;
}

async function expectOutcome(path: string, status: number): Promise<Json> {
  const res = await server.fhir(path);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(status);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].severity).toBe('error');
  return res.body;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A patient's record: Observations, Encounters, a Condition and a MedicationRequest, with the practitioners and organizations they name. */
interface Record_ {
  patient: string;
  observations: string[];
  encounters: string[];
  conditions: string[];
  medicationRequests: string[];
  /** Practitioners and Organizations referred to from the record, as `Type/id`. */
  referenced: string[];
}

async function makeRecord(family: string): Promise<Record_> {
  const gp = await create({ resourceType: 'Practitioner', name: [{ family: `${family}-gp` }] });
  const managing = await create({ resourceType: 'Organization', name: `${family} Health` });
  const patient = await create({
    resourceType: 'Patient',
    name: [{ family }],
    generalPractitioner: [{ reference: `Practitioner/${gp}` }],
    managingOrganization: { reference: `Organization/${managing}` },
  });
  const performer = await create({ resourceType: 'Practitioner', name: [{ family: `${family}-performer` }] });
  const attending = await create({ resourceType: 'Practitioner', name: [{ family: `${family}-attending` }] });
  const hospital = await create({ resourceType: 'Organization', name: `${family} Hospital` });
  const requester = await create({ resourceType: 'Practitioner', name: [{ family: `${family}-requester` }] });
  const subject = { reference: `Patient/${patient}` };
  const encounter = (code: string) =>
    create({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code },
      subject,
      participant: [{ individual: { reference: `Practitioner/${attending}` } }],
      serviceProvider: { reference: `Organization/${hospital}` },
    });
  const encounters = [await encounter('AMB'), await encounter('IMP')];
  const observations = [
    await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '8480-6' }] }, subject, performer: [{ reference: `Practitioner/${performer}` }], valueQuantity: { value: 150, unit: 'mmHg' } }),
    await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '8310-5' }] }, subject, encounter: { reference: `Encounter/${encounters[0]}` } }),
  ];
  const conditions = [await create({ resourceType: 'Condition', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] }, encounter: { reference: `Encounter/${encounters[1]}` } })];
  const medicationRequests = [
    await create({
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      subject,
      medicationCodeableConcept: { text: 'Amlodipine 5 mg' },
      requester: { reference: `Practitioner/${requester}` },
    }),
  ];
  return {
    patient,
    observations,
    encounters,
    conditions,
    medicationRequests,
    referenced: [`Practitioner/${gp}`, `Organization/${managing}`, `Practitioner/${performer}`, `Practitioner/${attending}`, `Organization/${hospital}`, `Practitioner/${requester}`],
  };
}

let mine: Record_;
let theirs: Record_;
let unrelated: string[];
beforeAll(async () => {
  mine = await makeRecord('Mine');
  theirs = await makeRecord('Theirs');
  unrelated = [
    await create({ resourceType: 'Organization', name: 'Unrelated' }),
    await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '8480-6' }] }, subject: { reference: 'Group/some-group' } }),
  ];
});

describe('compartment search Patient/[id]/[type]', () => {
  it('Patient/[id]/Observation returns only that patient’s Observations', async () => {
    expect(sorted(matchIds(await get(`Patient/${mine.patient}/Observation`)))).toEqual(sorted(mine.observations));
    expect(sorted(matchIds(await get(`Patient/${theirs.patient}/Observation`)))).toEqual(sorted(theirs.observations));
    for (const id of unrelated) expect(matchIds(await get(`Patient/${mine.patient}/Observation`))).not.toContain(id);
  });

  it('takes further search parameters', async () => {
    expect(matchIds(await get(q(`Patient/${mine.patient}/Observation`, ['code', `${LOINC}|8480-6`])))).toEqual([mine.observations[0]]);
    expect(matchIds(await get(q(`Patient/${mine.patient}/Observation`, ['code', `${LOINC}|8310-5`])))).toEqual([mine.observations[1]]);
    expect(matchIds(await get(q(`Patient/${mine.patient}/Observation`, ['code', `${LOINC}|9999-9`])))).toEqual([]);
    expect(matchIds(await get(q(`Patient/${theirs.patient}/Observation`, ['value-quantity', 'gt140'])))).toEqual([theirs.observations[0]]);
  });

  it('Patient/[id]/Encounter, /Condition and /MedicationRequest', async () => {
    expect(sorted(matchIds(await get(`Patient/${mine.patient}/Encounter`)))).toEqual(sorted(mine.encounters));
    expect(matchIds(await get(q(`Patient/${mine.patient}/Encounter`, ['class', 'IMP'])))).toEqual([mine.encounters[1]]);
    expect(matchIds(await get(`Patient/${mine.patient}/Condition`))).toEqual(mine.conditions);
    expect(matchIds(await get(`Patient/${theirs.patient}/MedicationRequest`))).toEqual(theirs.medicationRequests);
  });

  it('counts only the compartment in the total and keeps the compartment in paging links', async () => {
    const first = await get(q(`Patient/${mine.patient}/Observation`, ['_count', '1'], ['_total', 'accurate']));
    expect(first.total).toBe(2);
    expect(matchIds(first)).toHaveLength(1);
    const next = link(first, 'next')!;
    expect(relative(next).startsWith(`Patient/${mine.patient}/Observation?`)).toBe(true);
    const second = await get(relative(next));
    expect(sorted([...matchIds(first), ...matchIds(second)])).toEqual(sorted(mine.observations));
    expect(link(second, 'next')).toBeUndefined();
  });

  it('includes resources that name the patient through any compartment parameter (Observation.performer)', async () => {
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Performer' }] });
    const other = await create({ resourceType: 'Patient', name: [{ family: 'Subject' }] });
    const asSubject = await create({ resourceType: 'Observation', status: 'final', code: { text: 'a' }, subject: { reference: `Patient/${patient}` } });
    const asPerformer = await create({ resourceType: 'Observation', status: 'final', code: { text: 'b' }, subject: { reference: `Patient/${other}` }, performer: [{ reference: `Patient/${patient}` }] });
    const neither = await create({ resourceType: 'Observation', status: 'final', code: { text: 'c' }, subject: { reference: `Patient/${other}` } });
    expect(sorted(matchIds(await get(`Patient/${patient}/Observation`)))).toEqual(sorted([asSubject, asPerformer]));
    expect(sorted(matchIds(await get(`Patient/${other}/Observation`)))).toEqual(sorted([asPerformer, neither]));
    const everything = await get(`Patient/${patient}/$everything`);
    // asPerformer is in the compartment and refers to the other patient, which is included as a referenced resource
    expect(sorted(keys(everything))).toEqual(sorted([`Patient/${patient}`, `Observation/${asSubject}`, `Observation/${asPerformer}`, `Patient/${other}`]));
  });

  it('answers an unknown patient with 404', async () => {
    await expectOutcome('Patient/no-such-patient/Observation', 404);
  });

  it('answers a type that is not in the Patient compartment with 400', async () => {
    await expectOutcome(`Patient/${mine.patient}/Organization`, 400);
    await expectOutcome(`Patient/${mine.patient}/Practitioner`, 400);
  });
});

describe('Patient/[id]/$everything', () => {
  const everythingOf = (r: Record_) =>
    sorted([`Patient/${r.patient}`, ...r.observations.map((id) => `Observation/${id}`), ...r.encounters.map((id) => `Encounter/${id}`),
      ...r.conditions.map((id) => `Condition/${id}`), ...r.medicationRequests.map((id) => `MedicationRequest/${id}`), ...r.referenced]);

  it('returns the patient, its compartment and the practitioners and organizations referred to, nothing of another patient', async () => {
    const bundle = await get(`Patient/${mine.patient}/$everything`);
    expect(sorted(keys(bundle))).toEqual(everythingOf(mine));
    expect(new Set(keys(bundle)).size).toBe(keys(bundle).length);
    for (const e of bundle.entry) expect(e.fullUrl).toBe(`${server.fhirBaseUrl}/${e.resource.resourceType}/${e.resource.id}`);
    expect(sorted(keys(await get(`Patient/${theirs.patient}/$everything`)))).toEqual(everythingOf(theirs));
  });

  it('_type restricts the resource types', async () => {
    const bundle = await get(q(`Patient/${mine.patient}/$everything`, ['_type', 'Observation,Condition']));
    expect(sorted(keys(bundle))).toEqual(sorted([...mine.observations.map((id) => `Observation/${id}`), ...mine.conditions.map((id) => `Condition/${id}`)]));
    const practitioners = await get(q(`Patient/${mine.patient}/$everything`, ['_type', 'Practitioner']));
    expect(sorted(keys(practitioners))).toEqual(sorted(mine.referenced.filter((k) => k.startsWith('Practitioner/'))));
  });

  it('_since restricts to resources updated since then', async () => {
    const record = await makeRecord('Since');
    await sleep(20);
    const mark = await createFull({ resourceType: 'Basic', code: { text: 'time mark' } });
    await sleep(20);
    const late = await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '29463-7' }] }, subject: { reference: `Patient/${record.patient}` } });
    const condition = (await server.fhir(`Condition/${record.conditions[0]}`)).body;
    const updated = await server.fhir(`Condition/${condition.id}`, { method: 'PUT', body: { ...condition, clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved' }] } } });
    expect(updated.status).toBe(200);
    // another patient's late data stays out
    await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOINC, code: '29463-7' }] }, subject: { reference: `Patient/${theirs.patient}` } });

    const bundle = await get(q(`Patient/${record.patient}/$everything`, ['_since', mark.meta.lastUpdated]));
    expect(sorted(keys(bundle))).toEqual(sorted([`Observation/${late}`, `Condition/${condition.id}`]));
    const all = await get(`Patient/${record.patient}/$everything`);
    expect(sorted(keys(all))).toEqual(sorted([...everythingOf(record), `Observation/${late}`]));
  });

  it('pages with _count=5: next links yield each resource exactly once', async () => {
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Paged' }] });
    const observations = await Promise.all(
      Array.from({ length: 17 }, (_, i) => create({ resourceType: 'Observation', status: 'final', code: { text: `paged ${i}` }, subject: { reference: `Patient/${patient}` } })),
    );
    const encounter = await create({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${patient}` } });
    const condition = await create({ resourceType: 'Condition', subject: { reference: `Patient/${patient}` }, code: { text: 'paged' } });
    const expected = sorted([`Patient/${patient}`, ...observations.map((id) => `Observation/${id}`), `Encounter/${encounter}`, `Condition/${condition}`]);
    expect(expected).toHaveLength(20);

    const pages: string[][] = [];
    let path: string | undefined = q(`Patient/${patient}/$everything`, ['_count', '5']);
    while (path) {
      expect(pages.length, 'too many pages').toBeLessThan(10);
      const bundle = await get(path);
      pages.push(keys(bundle));
      const next = link(bundle, 'next');
      path = next ? relative(next) : undefined;
    }
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5]);
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(sorted(seen)).toEqual(expected);
  });

  it('answers an unknown patient with 404', async () => {
    await expectOutcome('Patient/no-such-patient/$everything', 404);
  });
});
