// FHIR R4 search result parameters (http://hl7.org/fhir/R4/search.html#return): sorting (#sort),
// including other resources (#include: _include, _revinclude, :iterate, search.mode "include"),
// summaries (#summary: _summary=true|text|data|count, the SUBSETTED tag), element selection
// (#elements) and totals (#total: _total=accurate|estimate|none).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import { entries, matchIds, q, sorted } from './helpers/bundles.ts';
import type { Json } from './helpers/bundles.ts';

const server = useTestServer();

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

async function create(resource: Json): Promise<string> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}/** Included entries as `Type/id`. */
const includedKeys = (bundle: Json): string[] => entries(bundle, 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`);

async function searchBundle(path: string): Promise<Json> {
  const res = await server.fhir(path);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  expect(res.body.resourceType).toBe('Bundle');
  expect(res.body.type).toBe('searchset');
  expect(entries(res.body, 'outcome'), `${path} reported problems`).toEqual([]);
  for (const e of res.body.entry ?? []) expect(e.fullUrl).toBe(`${server.fhirBaseUrl}/${e.resource.resourceType}/${e.resource.id}`);
  return res.body;
}

/** Ids of the matches in the order the server returned them. */
async function order(path: string): Promise<string[]> {
  return matchIds(await searchBundle(path));
}

const hasSubsettedTag = (resource: Json) => (resource.meta?.tag ?? []).some((t: Json) => t.system === SUBSETTED.system && t.code === SUBSETTED.code);

describe('_sort', () => {
  let adams: string, brown: string, clark: string, davis: string, evans: string, nobody: string;
  const sortSearch = (sort: string) => order(q('Patient', ['identifier', 'urn:sort-results|'], ['_sort', sort]));

  beforeAll(async () => {
    const patient = (n: string, extra: Json) => create({ resourceType: 'Patient', identifier: [{ system: 'urn:sort-results', value: n }], ...extra });
    // given names sort after every family name, so the smallest name part is the family name
    adams = await patient('1', { name: [{ family: 'Adams', given: ['Zoe'] }], gender: 'female', birthDate: '1980-05-01' });
    brown = await patient('2', { name: [{ family: 'Brown', given: ['Yusuf'] }], gender: 'male', birthDate: '1975-01-01' });
    clark = await patient('3', { name: [{ family: 'Clark', given: ['Xena'] }], gender: 'female', birthDate: '1990-12-31' });
    davis = await patient('4', { name: [{ family: 'Davis', given: ['Walter'] }], gender: 'male', birthDate: '1985-06-15' });
    evans = await patient('5', { name: [{ family: 'Evans', given: ['Vera'] }], gender: 'female' });
    nobody = await patient('6', {});
    await create({ resourceType: 'Patient', identifier: [{ system: 'urn:sort-results-other', value: '1' }], name: [{ family: 'Aaron' }], birthDate: '1900-01-01' });
  });

  it('sorts by a string parameter (name, family), ascending and descending, missing values last', async () => {
    expect(await sortSearch('family')).toEqual([adams, brown, clark, davis, evans, nobody]);
    expect(await sortSearch('-family')).toEqual([evans, davis, clark, brown, adams, nobody]);
    expect(await sortSearch('name')).toEqual([adams, brown, clark, davis, evans, nobody]);
  });

  it('sorts by a date parameter (birthdate), ascending and descending, missing values last', async () => {
    const missing = sorted([evans, nobody]);
    expect(await sortSearch('birthdate')).toEqual([brown, adams, davis, clark, ...missing]);
    expect(await sortSearch('-birthdate')).toEqual([clark, davis, adams, brown, ...missing]);
  });

  it('sorts by several keys: _sort=gender,-birthdate', async () => {
    // female: Clark 1990, Adams 1980, Evans (no date); male: Davis 1985, Brown 1975; then no gender
    expect(await sortSearch('gender,-birthdate')).toEqual([clark, adams, evans, davis, brown, nobody]);
    expect(await sortSearch('-gender,birthdate')).toEqual([brown, davis, adams, clark, evans, nobody]);
  });

  it('sorts by a quantity parameter (value-quantity)', async () => {
    const o = (value?: number) =>
      create({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'urn:sort-results', code: 'q' }] },
        ...(value === undefined ? {} : { valueQuantity: { value, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }),
      });
    const v120 = await o(120);
    const v5 = await o(5);
    const v80 = await o(80.5);
    const none = await o();
    const v1000 = await o(1000);
    const qs = (sort: string) => order(q('Observation', ['code', 'urn:sort-results|q'], ['_sort', sort]));
    expect(await qs('value-quantity')).toEqual([v5, v80, v120, v1000, none]);
    expect(await qs('-value-quantity')).toEqual([v1000, v120, v80, v5, none]);
  });

  it('sorts by a token parameter (code)', async () => {
    const o = (code: string) => create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:sort-token', code }] }, subject: { reference: 'Patient/sort-token' } });
    const b = await o('B-2');
    const a = await o('A-1');
    const c = await o('C-3');
    const ts = (sort: string) => order(q('Observation', ['subject', 'Patient/sort-token'], ['_sort', sort]));
    expect(await ts('code')).toEqual([a, b, c]);
    expect(await ts('-code')).toEqual([c, b, a]);
  });
});

describe('_include and _revinclude', () => {
  let drGp: string, drPerformer: string, x: string, y: string, group: string, gone: string;
  let obs1: string, obs2: string, obs3: string, obs4: string, obs5: string;
  const incSearch = (...pairs: Array<[string, string]>) => searchBundle(q('Observation', ['code', 'urn:include|x'], ...pairs));

  beforeAll(async () => {
    drGp = await create({ resourceType: 'Practitioner', name: [{ family: 'Gp' }] });
    drPerformer = await create({ resourceType: 'Practitioner', name: [{ family: 'Performer' }] });
    const orgUnused = await create({ resourceType: 'Organization', name: 'Unused' });
    x = await create({ resourceType: 'Patient', name: [{ family: 'X' }], generalPractitioner: [{ reference: `Practitioner/${drGp}` }], managingOrganization: { reference: `Organization/${orgUnused}` } });
    y = await create({ resourceType: 'Patient', name: [{ family: 'Y' }], generalPractitioner: [{ reference: `Practitioner/${drGp}` }] });
    group = await create({ resourceType: 'Group', type: 'person', actual: true });
    gone = await create({ resourceType: 'Patient', name: [{ family: 'Gone' }] });
    const o = (subject: string, extra: Json = {}) =>
      create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:include', code: 'x' }] }, subject: { reference: subject }, ...extra });
    obs1 = await o(`Patient/${x}`, { performer: [{ reference: `Practitioner/${drPerformer}` }] });
    obs2 = await o(`Patient/${x}`);
    obs3 = await o(`Patient/${y}`);
    obs4 = await o(`Group/${group}`);
    obs5 = await o(`Patient/${gone}`);
    // not a match: its subject must not be included
    const other = await create({ resourceType: 'Patient', name: [{ family: 'Other' }] });
    await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:include', code: 'other' }] }, subject: { reference: `Patient/${other}` } });
    expect((await server.fhir(`Patient/${gone}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('_include=Observation:subject adds each referenced resource once, as mode "include", outside the total', async () => {
    const bundle = await incSearch(['_include', 'Observation:subject'], ['_total', 'accurate']);
    expect(sorted(matchIds(bundle))).toEqual(sorted([obs1, obs2, obs3, obs4, obs5]));
    // x is the subject of two matches but appears once; the deleted patient does not appear
    expect(sorted(includedKeys(bundle))).toEqual(sorted([`Patient/${x}`, `Patient/${y}`, `Group/${group}`]));
    expect(bundle.total).toBe(5);
    expect(bundle.entry).toHaveLength(8);
    // without _total the whole result is on one page: the total still counts only the matches
    expect((await incSearch(['_include', 'Observation:subject'])).total).toBe(5);
  });

  it('_include=Observation:subject:Patient restricts the target type', async () => {
    const bundle = await incSearch(['_include', 'Observation:subject:Patient']);
    expect(sorted(includedKeys(bundle))).toEqual(sorted([`Patient/${x}`, `Patient/${y}`]));
    const groups = await incSearch(['_include', 'Observation:subject:Group']);
    expect(includedKeys(groups)).toEqual([`Group/${group}`]);
  });

  it('_include=Observation:* follows every reference parameter', async () => {
    const bundle = await incSearch(['_include', 'Observation:*']);
    expect(sorted(matchIds(bundle))).toEqual(sorted([obs1, obs2, obs3, obs4, obs5]));
    expect(sorted(includedKeys(bundle))).toEqual(sorted([`Patient/${x}`, `Patient/${y}`, `Group/${group}`, `Practitioner/${drPerformer}`]));
  });

  it('_include only follows references of the page of matches', async () => {
    const bundle = await incSearch(['_include', 'Observation:subject'], ['_id', `${obs3},${obs4}`]);
    expect(sorted(matchIds(bundle))).toEqual(sorted([obs3, obs4]));
    expect(sorted(includedKeys(bundle))).toEqual(sorted([`Patient/${y}`, `Group/${group}`]));
  });

  it('_include:iterate follows references of included resources too', async () => {
    const bundle = await incSearch(['_include', 'Observation:subject'], ['_include:iterate', 'Patient:general-practitioner']);
    expect(sorted(matchIds(bundle))).toEqual(sorted([obs1, obs2, obs3, obs4, obs5]));
    // drGp is the GP of both x and y: included once; x's managing organization is not followed
    expect(sorted(includedKeys(bundle))).toEqual(sorted([`Patient/${x}`, `Patient/${y}`, `Group/${group}`, `Practitioner/${drGp}`]));
    expect(bundle.total).toBe(5);
    // without :iterate, Patient:general-practitioner does not apply to an Observation search
    const flat = await server.fhir(q('Observation', ['code', 'urn:include|x'], ['_include', 'Observation:subject'], ['_include', 'Patient:general-practitioner']));
    expect(flat.status).toBe(200);
    expect(includedKeys(flat.body)).not.toContain(`Practitioner/${drGp}`);
  });

  it('does not repeat a resource that is both a match and included', async () => {
    const a = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:include-link', value: 'a' }] });
    const b = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:include-link', value: 'b' }], link: [{ other: { reference: `Patient/${a}` }, type: 'seealso' }] });
    const outside = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:include-link-other', value: 'c' }] });
    await create({ resourceType: 'Patient', identifier: [{ system: 'urn:include-link', value: 'd' }], link: [{ other: { reference: `Patient/${outside}` }, type: 'seealso' }] });
    const bundle = await searchBundle(q('Patient', ['identifier', 'urn:include-link|'], ['_include', 'Patient:link']));
    expect(matchIds(bundle)).toHaveLength(3);
    expect(matchIds(bundle)).toEqual(expect.arrayContaining([a, b]));
    expect(includedKeys(bundle)).toEqual([`Patient/${outside}`]);
  });

  it('_revinclude=Condition:encounter adds the Conditions that refer to the matches', async () => {
    const encounter = (value: string) =>
      create({
        resourceType: 'Encounter',
        status: 'finished',
        identifier: [{ system: value === 'other' ? 'urn:revinclude-other' : 'urn:revinclude', value }],
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      });
    const e1 = await encounter('1');
    const e2 = await encounter('2');
    const e3 = await encounter('3');
    const eOther = await encounter('other');
    const condition = (enc?: string) =>
      create({ resourceType: 'Condition', subject: { reference: 'Patient/revinclude' }, code: { text: 'x' }, ...(enc ? { encounter: { reference: `Encounter/${enc}` } } : {}) });
    const c1 = await condition(e1);
    const c2 = await condition(e1);
    const c3 = await condition(e2);
    await condition(eOther);
    await condition();
    const bundle = await searchBundle(q('Encounter', ['identifier', 'urn:revinclude|'], ['_revinclude', 'Condition:encounter']));
    expect(sorted(matchIds(bundle))).toEqual(sorted([e1, e2, e3]));
    expect(sorted(includedKeys(bundle))).toEqual(sorted([`Condition/${c1}`, `Condition/${c2}`, `Condition/${c3}`]));
    expect(bundle.total).toBe(3);
    // only the Conditions of the matches
    const one = await searchBundle(q('Encounter', ['identifier', 'urn:revinclude|2'], ['_revinclude', 'Condition:encounter']));
    expect(matchIds(one)).toEqual([e2]);
    expect(includedKeys(one)).toEqual([`Condition/${c3}`]);
  });
});

describe('_summary and _elements', () => {
  let full: Json;
  let observation: Json;
  beforeAll(async () => {
    const res = await server.fhir('Patient', {
      method: 'POST',
      body: {
        resourceType: 'Patient',
        text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">张三, male, 1970-01-01</div>' },
        identifier: [{ system: 'urn:summary', value: '1' }],
        active: true,
        name: [{ family: '张', given: ['三'] }],
        gender: 'male',
        birthDate: '1970-01-01',
        maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
        photo: [{ contentType: 'image/png', data: 'iVBORw0KGgo=' }],
        contact: [{ name: { family: '李' }, telecom: [{ system: 'phone', value: '+86 10 1234 5678' }] }],
        communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'zh-CN' }] } }],
      },
    });
    expect(res.status).toBe(201);
    full = res.body;
    const obs = await server.fhir('Observation', {
      method: 'POST',
      body: {
        resourceType: 'Observation',
        text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">BP 150</div>' },
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
        subject: { reference: `Patient/${full.id}` },
        valueQuantity: { value: 150, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        note: [{ text: 'measured twice' }],
      },
    });
    expect(obs.status).toBe(201);
    observation = obs.body;
    await create({ resourceType: 'Patient', identifier: [{ system: 'urn:summary-other', value: '1' }], name: [{ family: 'Other' }] });
  });

  async function only(path: string): Promise<Json> {
    const bundle = await searchBundle(path);
    expect(bundle.entry).toHaveLength(1);
    return bundle.entry[0].resource;
  }

  it('_summary=true keeps the isSummary elements (Patient: identifier, active, name, gender, birthDate…) and tags SUBSETTED', async () => {
    const p = await only(q('Patient', ['identifier', 'urn:summary|1'], ['_summary', 'true']));
    expect(Object.keys(p).sort()).toEqual(['active', 'birthDate', 'gender', 'id', 'identifier', 'meta', 'name', 'resourceType']);
    expect(p.name).toEqual(full.name);
    expect(p.id).toBe(full.id);
    expect(p.meta.versionId).toBe(full.meta.versionId);
    expect(hasSubsettedTag(p)).toBe(true);
    // Observation: status, code, subject, value[x] are summary elements; text and note are not
    const o = await only(q('Observation', ['_id', observation.id], ['_summary', 'true']));
    expect(Object.keys(o).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'subject', 'valueQuantity']);
    expect(hasSubsettedTag(o)).toBe(true);
    // the stored resource is unchanged
    const read = await server.fhir(`Patient/${full.id}`);
    expect(read.body.photo).toEqual(full.photo);
    expect(hasSubsettedTag(read.body)).toBe(false);
  });

  it('_summary=text keeps text, id, meta and mandatory elements', async () => {
    const p = await only(q('Patient', ['identifier', 'urn:summary|1'], ['_summary', 'text']));
    expect(Object.keys(p).sort()).toEqual(['id', 'meta', 'resourceType', 'text']);
    expect(p.text).toEqual(full.text);
    expect(hasSubsettedTag(p)).toBe(true);
    const o = await only(q('Observation', ['_id', observation.id], ['_summary', 'text']));
    expect(Object.keys(o).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'text']);
  });

  it('_summary=data drops only the text', async () => {
    const p = await only(q('Patient', ['identifier', 'urn:summary|1'], ['_summary', 'data']));
    const expectedKeys = Object.keys(full).filter((k) => k !== 'text').sort();
    expect(Object.keys(p).sort()).toEqual(expectedKeys);
    expect(p.contact).toEqual(full.contact);
    expect(hasSubsettedTag(p)).toBe(true);
  });

  it('_summary=false returns whole resources without the SUBSETTED tag', async () => {
    const p = await only(q('Patient', ['identifier', 'urn:summary|1'], ['_summary', 'false']));
    expect(p).toEqual(full);
  });

  it('_summary=count returns the total and no entries', async () => {
    const res = await searchBundle(q('Patient', ['identifier', 'urn:summary|'], ['_summary', 'count']));
    expect(res.total).toBe(1);
    expect(res.entry).toBeUndefined();
    const none = await searchBundle(q('Patient', ['identifier', 'urn:summary-none|'], ['_summary', 'count']));
    expect(none.total).toBe(0);
    expect(none.entry).toBeUndefined();
  });

  it('_elements=name,gender returns only those, with id, meta and resourceType, tagged SUBSETTED', async () => {
    const p = await only(q('Patient', ['identifier', 'urn:summary|1'], ['_elements', 'name,gender']));
    expect(Object.keys(p).sort()).toEqual(['gender', 'id', 'meta', 'name', 'resourceType']);
    expect(p.name).toEqual(full.name);
    expect(p.gender).toBe('male');
    expect(hasSubsettedTag(p)).toBe(true);
    const one = await only(q('Patient', ['identifier', 'urn:summary|1'], ['_elements', 'birthDate']));
    expect(Object.keys(one).sort()).toEqual(['birthDate', 'id', 'meta', 'resourceType']);
  });
});

describe('_total', () => {
  beforeAll(async () => {
    const entry = (i: number) => ({ request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', identifier: [{ system: 'urn:total', value: String(i) }] } });
    const tx = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 30 }, (_, i) => entry(i)) } });
    expect(tx.status).toBe(200);
    await create({ resourceType: 'Patient', identifier: [{ system: 'urn:total-other', value: '1' }] });
  });

  it('accurate counts every match, across pages', async () => {
    const res = await searchBundle(q('Patient', ['identifier', 'urn:total|'], ['_count', '7'], ['_total', 'accurate']));
    expect(res.total).toBe(30);
    expect(res.entry).toHaveLength(7);
    const some = await searchBundle(q('Patient', ['identifier', 'urn:total|1,urn:total|2,urn:total|99'], ['_total', 'accurate']));
    expect(some.total).toBe(2);
  });

  it('estimate gives a whole number ≥ 0', async () => {
    const res = await searchBundle(q('Patient', ['identifier', 'urn:total|'], ['_count', '7'], ['_total', 'estimate']));
    expect(Number.isInteger(res.total)).toBe(true);
    expect(res.total).toBeGreaterThanOrEqual(0);
    expect(res.entry).toHaveLength(7);
  });

  it('none gives no total, even when the whole result is on the page', async () => {
    const res = await searchBundle(q('Patient', ['identifier', 'urn:total|'], ['_count', '7'], ['_total', 'none']));
    expect(res.total).toBeUndefined();
    expect(res.entry).toHaveLength(7);
    const small = await searchBundle(q('Patient', ['identifier', 'urn:total|3'], ['_total', 'none']));
    expect(small.total).toBeUndefined();
    expect(small.entry).toHaveLength(1);
  });
});
