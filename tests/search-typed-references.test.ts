// Reference parameters restricted to one target type — Observation `patient` is
// `subject.where(resolve() is Patient)` — store no reference rows of their own
// (src/fhir/search/typed-references.ts): every query of them reads the rows of the parameter they
// restrict, pointing at that type. These tests hold each kind of query to the answers the
// parameter's definition gives, against the real database: filters and modifiers, chains, _has,
// _include/_revinclude, compartments, $everything, sort and the follow-up engine's referencing read.
import { beforeAll, describe, expect, it } from 'vitest';
import { PgFhirStore } from '../src/fhir/index.ts';
import { useTestServer } from './helpers/server.ts';
import { entries, matchIds, q, sorted } from './helpers/bundles.ts';
import type { Json } from './helpers/bundles.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

async function create(resource: Json): Promise<string> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function get(path: string): Promise<Json> {
  const res = await server.fhir(path);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  expect(entries(res.body, 'outcome')).toEqual([]);
  return res.body;
}

const ids = async (path: string) => sorted(matchIds(await get(path)));
const CODE = { coding: [{ system: 'urn:typed-refs', code: 'x' }] };

describe('a reference parameter restricted to one target type', () => {
  let wang: string, li: string, ward: string, wangObs: string, liObs: string, wardObs: string, logicalObs: string, wangCondition: string, provenance: string;

  beforeAll(async () => {
    wang = await create({ resourceType: 'Patient', name: [{ family: '王', given: ['芳'] }], identifier: [{ system: 'urn:typed-refs', value: 'wang' }] });
    li = await create({ resourceType: 'Patient', name: [{ family: '李', given: ['强'] }] });
    ward = await create({ resourceType: 'Group', type: 'person', actual: true });
    const obs = (subject: Json, value: number) => create({ resourceType: 'Observation', status: 'final', code: CODE, subject, valueQuantity: { value } });
    wangObs = await obs({ reference: `Patient/${wang}` }, 2);
    liObs = await obs({ reference: `Patient/${li}` }, 1);
    wardObs = await obs({ reference: `Group/${ward}` }, 3);
    logicalObs = await obs({ type: 'Patient', identifier: { system: 'urn:typed-refs', value: 'wang' } }, 4);
    wangCondition = await create({ resourceType: 'Condition', code: CODE, subject: { reference: `Patient/${wang}` } });
    provenance = await create({ resourceType: 'Provenance', target: [{ reference: `Observation/${wangObs}` }, { reference: `Patient/${wang}` }], recorded: '2026-11-24T08:00:00Z', agent: [{ who: { display: 'HIS' } }] });
  });

  const obsWith = (...pairs: Array<[string, string]>) => ids(q('Observation', ['code', 'urn:typed-refs|x'], ...pairs));

  it('matches by Type/id or bare id, and never a reference to another type', async () => {
    expect(await obsWith(['patient', `Patient/${wang}`])).toEqual([wangObs]);
    expect(await obsWith(['patient', wang])).toEqual([wangObs]);
    expect(await obsWith(['patient', `Group/${ward}`])).toEqual([]);
    expect(await obsWith(['patient', ward])).toEqual([]);
    expect(await obsWith(['subject', ward])).toEqual([wardObs]);
    expect(await obsWith(['patient', `${wang},${li}`])).toEqual(sorted([wangObs, liObs]));
  });

  it(':missing and :identifier', async () => {
    expect(await obsWith(['patient:missing', 'true'])).toEqual(sorted([wardObs, logicalObs]));
    expect(await obsWith(['patient:missing', 'false'])).toEqual(sorted([wangObs, liObs]));
    expect(await obsWith(['patient:identifier', 'urn:typed-refs|wang'])).toEqual([logicalObs]);
  });

  it('chains through it and _has reverse-chains through it', async () => {
    expect(await obsWith(['patient.name', '王'])).toEqual([wangObs]);
    expect(await obsWith(['patient:Patient.name', '李'])).toEqual([liObs]);
    expect(await ids(q('Patient', ['_has:Observation:patient:code', 'urn:typed-refs|x'], ['_id', `${wang},${li}`]))).toEqual(sorted([wang, li]));
    expect(await ids(q('Group', ['_has:Observation:subject:code', 'urn:typed-refs|x'], ['_id', ward]))).toEqual([ward]);
  });

  it('_include and _revinclude through it', async () => {
    const included = await get(q('Observation', ['code', 'urn:typed-refs|x'], ['_include', 'Observation:patient']));
    expect(sorted(entries(included, 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`))).toEqual(sorted([`Patient/${wang}`, `Patient/${li}`]));
    const revincluded = await get(q('Patient', ['_id', wang], ['_revinclude', 'Observation:patient'], ['_revinclude', 'Provenance:patient']));
    expect(sorted(entries(revincluded, 'include').map((e) => e.resource.id))).toEqual(sorted([wangObs, provenance]));
    const groupRev = await get(q('Group', ['_id', ward], ['_revinclude', 'Observation:patient']));
    expect(entries(groupRev, 'include')).toEqual([]);
  });

  it('puts resources in the Patient compartment and in $everything', async () => {
    expect(await ids(`Patient/${wang}/Condition`)).toEqual([wangCondition]);
    const everything = await get(`Patient/${wang}/$everything`);
    const found = (everything.entry ?? []).map((e: Json) => `${e.resource.resourceType}/${e.resource.id}`);
    expect(found).toEqual(expect.arrayContaining([`Patient/${wang}`, `Condition/${wangCondition}`, `Observation/${wangObs}`, `Provenance/${provenance}`]));
    expect(found).not.toContain(`Observation/${liObs}`);
  });

  it('sorts by it', async () => {
    const [first, second] = [wang, li].sort();
    const page = matchIds(await get(q('Observation', ['code', 'urn:typed-refs|x'], ['patient', `${wang},${li}`], ['_sort', 'patient'])));
    expect(page).toEqual([first === wang ? wangObs : liObs, first === wang ? liObs : wangObs]);
    expect(second).toBeDefined();
  });

  it("answers the follow-up engine's referencing read", async () => {
    const store = new PgFhirStore(server.pool);
    const found = await store.findReferencing(`Patient/${wang}`, [{ resourceType: 'Condition', param: 'patient' }, { resourceType: 'Observation', param: 'patient' }]);
    expect(sorted(found.map((v) => v.id))).toEqual(sorted([wangCondition, wangObs]));
    expect(await store.findReferencing(`Group/${ward}`, [{ resourceType: 'Observation', param: 'patient' }])).toEqual([]);
  });

  it('stores no reference rows under it', async () => {
    const { rows } = await server.pool.query(`SELECT count(*)::int AS n FROM search_reference WHERE resource_type IN ('Observation', 'Condition', 'Provenance') AND code = 'patient'`);
    expect(rows[0].n).toBe(0);
  });
});
