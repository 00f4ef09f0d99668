// FHIR R4 RESTful API: create, read, vread, update (incl. update-as-create), delete, versioning,
// ETag/Last-Modified/Location, If-Match, Prefer (http://hl7.org/fhir/R4/http.html §3.1.0.2–3.1.0.7).
import { describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

const patient = { resourceType: 'Patient', name: [{ family: '张', given: ['三'] }], gender: 'male', birthDate: '1960-05-01' };

describe('create', () => {
  it('assigns id, versionId and lastUpdated, and answers 201 with ETag, Last-Modified and Location', async () => {
    const res = await server.fhir('Patient', { method: 'POST', body: { ...patient, id: 'client-chosen' } });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.id).not.toBe('client-chosen');
    expect(res.body.meta.versionId).toBe('1');
    expect(Date.parse(res.body.meta.lastUpdated)).toBeGreaterThan(Date.now() - 60_000);
    expect(res.headers.get('etag')).toBe('W/"1"');
    expect(new Date(res.headers.get('last-modified')!).getTime()).toBe(Math.floor(Date.parse(res.body.meta.lastUpdated) / 1000) * 1000);
    expect(res.headers.get('location')).toBe(`${server.fhirBaseUrl}/Patient/${res.body.id}/_history/1`);
    expect(res.body.name[0].family).toBe('张');
  });

  it('assigns time-ordered ids (UUID version 7) on create, in a transaction Bundle and on a conditional update that matches nothing', async () => {
    const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const before = Date.now();
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const identifier = { system: 'urn:oid:2.16.156.10011.1.3', value: `v7-${before}` };
    const bundle = await server.fhir('', {
      method: 'POST',
      body: { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:7d0d3f1e-0000-4000-8000-000000000001', resource: patient, request: { method: 'POST', url: 'Patient' } }] },
    });
    const conditional = await server.fhir(`Patient?identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}`, { method: 'PUT', body: { ...patient, identifier: [identifier] } });
    expect(conditional.status).toBe(201);
    const ids = [created.id, bundle.body.entry[0].response.location.split('/')[1], conditional.body.id];
    for (const id of ids) expect(id).toMatch(v7);
    const millis = ids.map((id) => parseInt(id.replace('-', '').slice(0, 12), 16));
    expect(millis[0]).toBeGreaterThanOrEqual(before);
    expect(millis[2]).toBeLessThanOrEqual(Date.now());
    expect([...millis].sort((x, y) => x - y)).toEqual(millis); // created in this order
  });

  it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
    const minimal = await server.fhir('Patient', { method: 'POST', body: patient, headers: { prefer: 'return=minimal' } });
    expect(minimal.status).toBe(201);
    expect(minimal.body).toBeUndefined();
    expect(minimal.headers.get('location')).toMatch(/\/Patient\/[0-9a-f-]{36}\/_history\/1$/);
    const oo = await server.fhir('Patient', { method: 'POST', body: patient, headers: { prefer: 'return=OperationOutcome' } });
    expect(oo.status).toBe(201);
    expect(oo.body.resourceType).toBe('OperationOutcome');
    expect(oo.body.issue[0].severity).toBe('information');
  });
});

describe('read and vread', () => {
  it('reads the current version and any earlier one', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { ...created, gender: 'female' } });
    const current = await server.fhir(`Patient/${created.id}`);
    expect(current.status).toBe(200);
    expect(current.body.gender).toBe('female');
    expect(current.body.meta.versionId).toBe('2');
    expect(current.headers.get('etag')).toBe('W/"2"');
    const v1 = await server.fhir(`Patient/${created.id}/_history/1`);
    expect(v1.status).toBe(200);
    expect(v1.body.gender).toBe('male');
    expect(v1.headers.get('etag')).toBe('W/"1"');
  });

  it('answers a conditional read with 304 while the version is unchanged (If-None-Match, If-Modified-Since)', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const first = await server.fhir(`Patient/${created.id}`);
    const same = await server.fhir(`Patient/${created.id}`, { headers: { 'if-none-match': 'W/"1"' } });
    expect(same.status).toBe(304);
    expect(same.body).toBeUndefined();
    expect((await server.fhir(`Patient/${created.id}`, { headers: { 'if-modified-since': first.headers.get('last-modified')! } })).status).toBe(304);
    await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { ...created, gender: 'female' } });
    const changed = await server.fhir(`Patient/${created.id}`, { headers: { 'if-none-match': 'W/"1"' } });
    expect(changed.status).toBe(200);
    expect(changed.body.gender).toBe('female');
    expect((await server.fhir(`Patient/${created.id}`, { headers: { 'if-modified-since': 'Thu, 01 Jan 2015 00:00:00 GMT' } })).status).toBe(200);
  });

  it('answers 404 with an OperationOutcome for unknown ids, versions and malformed ids', async () => {
    for (const path of ['Patient/does-not-exist', 'Patient/has%20space', `Patient/${'x'.repeat(65)}`, 'Patient/abc/_history/1']) {
      const res = await server.fhir(path);
      expect(res.status, path).toBe(404);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].code).toBe('not-found');
    }
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    expect((await server.fhir(`Patient/${created.id}/_history/2`)).status).toBe(404);
    expect((await server.fhir(`Patient/${created.id}/_history/zero`)).status).toBe(404);
  });

  it('answers 404 for an unknown resource type', async () => {
    const res = await server.fhir('Pateint/1');
    expect(res.status).toBe(404);
    expect(res.body.issue[0].details.coding[0].code).toBe('CB_ERR_UNKNOWN_RESOURCE_TYPE');
  });
});

describe('update', () => {
  it('creates with the client id when the resource does not exist (update-as-create)', async () => {
    const res = await server.fhir('Patient/hl7-mrn-12345', { method: 'PUT', body: { ...patient, id: 'hl7-mrn-12345' } });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe('hl7-mrn-12345');
    expect(res.body.meta.versionId).toBe('1');
    const again = await server.fhir('Patient/hl7-mrn-12345', { method: 'PUT', body: { ...patient, id: 'hl7-mrn-12345', gender: 'other' } });
    expect(again.status).toBe(200);
    expect(again.body.meta.versionId).toBe('2');
  });

  it('makes no new version when nothing changed', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const res = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: created });
    expect(res.status).toBe(200);
    expect(res.body.meta.versionId).toBe('1');
  });

  it('rejects a body whose id or type does not match the URL', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const wrongId = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { ...created, id: 'other' } });
    expect(wrongId.status).toBe(400);
    expect(wrongId.body.issue[0].details.coding[0].code).toBe('CB_ERR_ID_MISMATCH');
    const noId = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: patient });
    expect(noId.status).toBe(400);
    const wrongType = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { resourceType: 'Observation', id: created.id } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.issue[0].details.coding[0].code).toBe('CB_ERR_RESOURCE_TYPE_MISMATCH');
  });

  it('checks If-Match: the current version succeeds, a stale one is 412 and writes nothing', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const ok = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { ...created, gender: 'female' }, headers: { 'if-match': 'W/"1"' } });
    expect(ok.status).toBe(200);
    expect(ok.body.meta.versionId).toBe('2');
    const stale = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { ...created, gender: 'other' }, headers: { 'if-match': 'W/"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.body.issue[0].code).toBe('conflict');
    expect((await server.fhir(`Patient/${created.id}`)).body.gender).toBe('female');
    const garbage = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: created, headers: { 'if-match': 'yesterday' } });
    expect(garbage.status).toBe(400);
  });

  it('never loses a write when many clients update one resource at once', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const writers = 20;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { ...created, name: [{ family: `Writer${i}` }] } }),
      ),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const versions = results.map((r) => Number(r.body.meta.versionId)).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: writers }, (_, i) => i + 2));
    const history = await server.fhir(`Patient/${created.id}/_history?_count=100`);
    expect(history.body.entry).toHaveLength(writers + 1);
    const families = new Set(history.body.entry.map((e: any) => e.resource.name?.[0]?.family));
    for (let i = 0; i < writers; i++) expect(families.has(`Writer${i}`)).toBe(true);
  });
});

describe('delete', () => {
  it('deletes as a new version: read is 410, history keeps all versions, and deleting again succeeds', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const del = await server.fhir(`Patient/${created.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    const read = await server.fhir(`Patient/${created.id}`);
    expect(read.status).toBe(410);
    expect(read.body.issue[0].code).toBe('deleted');
    expect((await server.fhir(`Patient/${created.id}/_history/1`)).status).toBe(200);
    expect((await server.fhir(`Patient/${created.id}/_history/2`)).status).toBe(410);
    const history = await server.fhir(`Patient/${created.id}/_history`);
    expect(history.body.entry.map((e: any) => e.request.method)).toEqual(['DELETE', 'POST']);
    expect((await server.fhir(`Patient/${created.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await server.fhir(`Patient/${created.id}/_history`)).body.entry).toHaveLength(2);
  });

  it('recreates a deleted resource by update with a higher version', async () => {
    await server.fhir('Patient/recreated', { method: 'PUT', body: { ...patient, id: 'recreated' } });
    await server.fhir('Patient/recreated', { method: 'DELETE' });
    const again = await server.fhir('Patient/recreated', { method: 'PUT', body: { ...patient, id: 'recreated' } });
    expect(again.status).toBe(201);
    expect(again.body.meta.versionId).toBe('3');
  });

  it('answers 404 for an unknown id and 412 for a stale If-Match', async () => {
    expect((await server.fhir('Patient/never-was', { method: 'DELETE' })).status).toBe(404);
    const created = (await server.fhir('Patient', { method: 'POST', body: patient })).body;
    const stale = await server.fhir(`Patient/${created.id}`, { method: 'DELETE', headers: { 'if-match': 'W/"7"' } });
    expect(stale.status).toBe(412);
    expect((await server.fhir(`Patient/${created.id}`)).status).toBe(200);
  });
});
