// FHIR R4 conditional interactions: conditional create with If-None-Exist
// (http://hl7.org/fhir/R4/http.html#ccreate), conditional update by search
// (http://hl7.org/fhir/R4/http.html#cond-update), conditional delete
// (http://hl7.org/fhir/R4/http.html#3.1.0.7.1), and 412 Precondition Failed for several matches.
import { describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

type Json = Record<string, any>;

const patient = (system: string, value: string, extra: Json = {}): Json => ({
  resourceType: 'Patient',
  identifier: [{ system, value }],
  ...extra,
});

async function create(resource: Json): Promise<Json> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Ids of all current Patients with an identifier in `system` (any value). */
async function idsInSystem(system: string): Promise<string[]> {
  const res = await server.fhir(`Patient?${new URLSearchParams([['identifier', `${system}|`], ['_count', '1000']])}`);
  expect(res.status).toBe(200);
  return (res.body.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id as string).sort();
}

const condition = (system: string, value: string) => new URLSearchParams([['identifier', `${system}|${value}`]]).toString();

function expectOutcome(res: { status: number; body: any }, status: number, issueCode: string, errorCode?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].code).toBe(issueCode);
  if (errorCode) expect(res.body.issue[0].details.coding[0].code).toBe(errorCode);
}

describe('conditional create (If-None-Exist)', () => {
  const sys = 'urn:ccreate';

  it('creates when nothing matches (201)', async () => {
    const res = await server.fhir('Patient', { method: 'POST', body: patient(sys, 'none-yet'), headers: { 'if-none-exist': condition(sys, 'none-yet') } });
    expect(res.status).toBe(201);
    expect(res.body.meta.versionId).toBe('1');
    expect(res.headers.get('location')).toBe(`${server.fhirBaseUrl}/Patient/${res.body.id}/_history/1`);
    expect(await idsInSystem(sys)).toEqual([res.body.id]);
  });

  it('returns the one existing match with 200 and creates nothing', async () => {
    const existing = await create(patient(sys, 'one', { gender: 'female' }));
    const before = await idsInSystem(sys);
    const res = await server.fhir('Patient', { method: 'POST', body: patient(sys, 'one', { gender: 'male' }), headers: { 'if-none-exist': condition(sys, 'one') } });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(existing.id);
    expect(res.body.gender).toBe('female');
    expect(res.body.meta.versionId).toBe('1');
    expect(res.headers.get('etag')).toBe('W/"1"');
    expect(await idsInSystem(sys)).toEqual(before);
    expect((await server.fhir(`Patient/${existing.id}`)).body.meta.versionId).toBe('1');
  });

  it('accepts the condition with a leading [type]? as well', async () => {
    const existing = await create(patient(sys, 'prefixed'));
    const res = await server.fhir('Patient', { method: 'POST', body: patient(sys, 'prefixed'), headers: { 'if-none-exist': `Patient?${condition(sys, 'prefixed')}` } });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(existing.id);
  });

  it('answers 412 and creates nothing when several resources match', async () => {
    const a = await create(patient(sys, 'twice'));
    const b = await create(patient(sys, 'twice'));
    const res = await server.fhir('Patient', { method: 'POST', body: patient(sys, 'twice'), headers: { 'if-none-exist': condition(sys, 'twice') } });
    expectOutcome(res, 412, 'multiple-matches', 'CB_ERR_MULTIPLE_MATCHES');
    const twice = await server.fhir(`Patient?${condition(sys, 'twice')}`);
    expect(twice.body.entry.map((e: Json) => e.resource.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('creates exactly one resource when ten identical conditional creates race', async () => {
    const race = 'urn:ccreate-race';
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        server.fhir('Patient', { method: 'POST', body: patient(race, 'same'), headers: { 'if-none-exist': condition(race, 'same') } }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await idsInSystem(race)).toEqual([...ids]);
  });

  it('answers 400 for a condition without search parameters, and creates nothing', async () => {
    for (const header of ['_count=1', '_sort=_id', 'Patient?_summary=count']) {
      const res = await server.fhir('Patient', { method: 'POST', body: patient('urn:ccreate-empty', 'x'), headers: { 'if-none-exist': header } });
      expectOutcome(res, 400, 'invalid');
    }
    expect(await idsInSystem('urn:ccreate-empty')).toEqual([]);
  });

  it('answers 400 for a condition with an unknown parameter rather than ignoring it', async () => {
    const res = await server.fhir('Patient', { method: 'POST', body: patient('urn:ccreate-unknown', 'x'), headers: { 'if-none-exist': 'foo=bar' } });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await idsInSystem('urn:ccreate-unknown')).toEqual([]);
  });
});

describe('conditional update (PUT [type]?[search])', () => {
  const sys = 'urn:cupdate';

  it('creates when nothing matches (201)', async () => {
    const res = await server.fhir(`Patient?${condition(sys, 'new')}`, { method: 'PUT', body: patient(sys, 'new', { gender: 'female' }) });
    expect(res.status).toBe(201);
    expect(res.body.meta.versionId).toBe('1');
    expect(res.body.gender).toBe('female');
    expect(await idsInSystem(sys)).toEqual([res.body.id]);
  });

  it('updates the one match, keeping its id (200, new version)', async () => {
    const existing = await create(patient(sys, 'one', { gender: 'female' }));
    const bystander = await create(patient(sys, 'other', { gender: 'female' }));
    const res = await server.fhir(`Patient?${condition(sys, 'one')}`, { method: 'PUT', body: patient(sys, 'one', { gender: 'male' }) });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(existing.id);
    expect(res.body.meta.versionId).toBe('2');
    expect(res.headers.get('etag')).toBe('W/"2"');
    expect((await server.fhir(`Patient/${existing.id}`)).body.gender).toBe('male');
    const untouched = await server.fhir(`Patient/${bystander.id}`);
    expect(untouched.body.gender).toBe('female');
    expect(untouched.body.meta.versionId).toBe('1');
    expect((await idsInSystem(sys)).filter((id) => id === existing.id || id === bystander.id)).toHaveLength(2);
  });

  it('rejects a body id that differs from the match', async () => {
    const existing = await create(patient(sys, 'id-check'));
    const res = await server.fhir(`Patient?${condition(sys, 'id-check')}`, { method: 'PUT', body: { ...patient(sys, 'id-check', { gender: 'other' }), id: 'some-other-id' } });
    expectOutcome(res, 400, 'invalid', 'CB_ERR_ID_MISMATCH');
    expect((await server.fhir(`Patient/${existing.id}`)).body.meta.versionId).toBe('1');
    expect((await server.fhir('Patient/some-other-id')).status).toBe(404);
  });

  it('answers 412 and changes nothing when several match', async () => {
    const a = await create(patient(sys, 'many', { gender: 'female' }));
    const b = await create(patient(sys, 'many', { gender: 'female' }));
    const res = await server.fhir(`Patient?${condition(sys, 'many')}`, { method: 'PUT', body: patient(sys, 'many', { gender: 'male' }) });
    expectOutcome(res, 412, 'multiple-matches', 'CB_ERR_MULTIPLE_MATCHES');
    for (const id of [a.id, b.id]) {
      const current = await server.fhir(`Patient/${id}`);
      expect(current.body.meta.versionId).toBe('1');
      expect(current.body.gender).toBe('female');
    }
  });

  it('creates one resource and updates it when ten identical conditional updates race', async () => {
    const race = 'urn:cupdate-race';
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => server.fhir(`Patient?${condition(race, 'same')}`, { method: 'PUT', body: patient(race, 'same', { name: [{ family: `Racer${i}` }] }) })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    const ids = await idsInSystem(race);
    expect(ids).toHaveLength(1);
    expect(new Set(results.map((r) => r.body.id))).toEqual(new Set(ids));
    expect(results.map((r) => Number(r.body.meta.versionId)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('answers 400 without search parameters', async () => {
    const res = await server.fhir('Patient', { method: 'PUT', body: patient('urn:cupdate-empty', 'x') });
    expectOutcome(res, 400, 'invalid');
    const onlyControl = await server.fhir('Patient?_count=10', { method: 'PUT', body: patient('urn:cupdate-empty', 'x') });
    expectOutcome(onlyControl, 400, 'invalid');
    expect(await idsInSystem('urn:cupdate-empty')).toEqual([]);
  });
});

describe('conditional delete (DELETE [type]?[search])', () => {
  const sys = 'urn:cdelete';

  it('deletes the one match', async () => {
    const target = await create(patient(sys, 'one'));
    const bystander = await create(patient(sys, 'keep'));
    const res = await server.fhir(`Patient?${condition(sys, 'one')}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const read = await server.fhir(`Patient/${target.id}`);
    expect(read.status).toBe(410);
    expect((await server.fhir(`Patient/${bystander.id}`)).status).toBe(200);
    expect(await idsInSystem(sys)).toEqual([bystander.id]);
  });

  it('succeeds with 200 and does nothing when nothing matches', async () => {
    const before = await idsInSystem(sys);
    const res = await server.fhir(`Patient?${condition(sys, 'nobody')}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await idsInSystem(sys)).toEqual(before);
  });

  it('answers 412 and deletes nothing when several match', async () => {
    const a = await create(patient(sys, 'many'));
    const b = await create(patient(sys, 'many'));
    const res = await server.fhir(`Patient?${condition(sys, 'many')}`, { method: 'DELETE' });
    expectOutcome(res, 412, 'multiple-matches', 'CB_ERR_MULTIPLE_MATCHES');
    expect((await server.fhir(`Patient/${a.id}`)).status).toBe(200);
    expect((await server.fhir(`Patient/${b.id}`)).status).toBe(200);
  });

  it('answers 400 without search parameters or with an unknown one, and deletes nothing', async () => {
    const keep = await create(patient('urn:cdelete-guard', 'keep'));
    expectOutcome(await server.fhir('Patient', { method: 'DELETE' }), 400, 'invalid');
    expectOutcome(await server.fhir('Patient?_count=1', { method: 'DELETE' }), 400, 'invalid');
    // An ignored parameter would turn the condition into "every Patient": it must be an error here.
    const unknown = await server.fhir('Patient?foo=bar', { method: 'DELETE' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.resourceType).toBe('OperationOutcome');
    expect((await server.fhir(`Patient/${keep.id}`)).status).toBe(200);
  });
});
