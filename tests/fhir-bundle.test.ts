// FHIR R4 batch and transaction (http://hl7.org/fhir/R4/http.html#transaction): processing rules for
// transactions (http://hl7.org/fhir/R4/http.html#trules: all-or-nothing, DELETE/POST/PUT/GET order,
// identity overlap, urn:uuid and conditional reference resolution), batch rules
// (http://hl7.org/fhir/R4/http.html#brules), the response Bundle (transaction-response /
// batch-response, http://hl7.org/fhir/R4/bundle.html#transaction-response), ifNoneExist/ifMatch in
// Bundle.entry.request (http://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.request), and
// Synthea patient bundles loaded as transactions.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import type { FhirReply } from './helpers/server.ts';

const server = useTestServer();

type Json = Record<string, any>;

const transaction = (...entry: Json[]): Json => ({ resourceType: 'Bundle', type: 'transaction', entry });
const batch = (...entry: Json[]): Json => ({ resourceType: 'Bundle', type: 'batch', entry });
const post = (resource: Json, extra: Json = {}, fullUrl?: string): Json => ({
  ...(fullUrl ? { fullUrl } : {}),
  resource,
  request: { method: 'POST', url: resource.resourceType, ...extra },
});
const putEntry = (resource: Json, url = `${resource.resourceType}/${resource.id}`, extra: Json = {}): Json => ({ resource, request: { method: 'PUT', url, ...extra } });
const del = (url: string, extra: Json = {}): Json => ({ request: { method: 'DELETE', url, ...extra } });
const get = (url: string): Json => ({ request: { method: 'GET', url } });

const patient = (system: string, value: string, extra: Json = {}): Json => ({ resourceType: 'Patient', identifier: [{ system, value }], ...extra });
const observation = (subject: string, extra: Json = {}): Json => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: subject },
  ...extra,
});

const send = (bundle: Json): Promise<FhirReply> => server.fhir('', { method: 'POST', body: bundle });

async function create(resource: Json): Promise<Json> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function putResource(resource: Json): Promise<Json> {
  const res = await server.fhir(`${resource.resourceType}/${resource.id}`, { method: 'PUT', body: resource });
  expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
  return res.body;
}

async function searchIds(path: string): Promise<string[]> {
  const res = await server.fhir(path);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.entry ?? []).filter((e: Json) => e.search?.mode === 'match').map((e: Json) => e.resource.id as string).sort();
}

const inSystem = (type: string, system: string) => searchIds(`${type}?${new URLSearchParams([['identifier', `${system}|`], ['_count', '1000']])}`);

async function count(type: string): Promise<number> {
  const res = await server.fhir(`${type}?_summary=count`);
  expect(res.status).toBe(200);
  return res.body.total as number;
}

/** The id from a response entry's location (`Type/id/_history/n`, relative or absolute). */
function idFromLocation(location: string, type: string): string {
  const m = new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})/_history/\\d+$`).exec(location);
  expect(m, location).not.toBeNull();
  return m![1]!;
}

function expectFailure(res: FhirReply, status: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].severity).toBe('error');
}

describe('transaction: references', () => {
  it('assigns ids to urn:uuid entries and rewrites references to them', async () => {
    const patientUrl = 'urn:uuid:0d8b5b1e-7e3c-4e55-9f7b-2f5f7c1a0001';
    const res = await send(
      transaction(
        post(observation(patientUrl), {}, 'urn:uuid:0d8b5b1e-7e3c-4e55-9f7b-2f5f7c1a0002'),
        post(patient('urn:tx-ref', '1', { name: [{ family: '王', given: ['五'] }] }), {}, patientUrl),
        post({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: patientUrl } }),
      ),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.resourceType).toBe('Bundle');
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry).toHaveLength(3);
    for (const entry of res.body.entry) {
      expect(entry.response.status).toBe('201 Created');
      expect(entry.response.etag).toBe('W/"1"');
    }
    // entries answer in request order
    const observationId = idFromLocation(res.body.entry[0].response.location, 'Observation');
    const patientId = idFromLocation(res.body.entry[1].response.location, 'Patient');
    const encounterId = idFromLocation(res.body.entry[2].response.location, 'Encounter');
    expect(res.body.entry[1].resource.id).toBe(patientId);

    const obs = await server.fhir(`Observation/${observationId}`);
    expect(obs.status).toBe(200);
    expect(obs.body.subject.reference).toBe(`Patient/${patientId}`);
    expect((await server.fhir(`Encounter/${encounterId}`)).body.subject.reference).toBe(`Patient/${patientId}`);
    expect(await searchIds(`Observation?subject=Patient/${patientId}`)).toEqual([observationId]);
    expect(await inSystem('Patient', 'urn:tx-ref')).toEqual([patientId]);
  });

  it('resolves a conditional reference to the one resource it matches', async () => {
    const target = await create(patient('urn:tx-cond', 'A'));
    await create(patient('urn:tx-cond', 'B'));
    const res = await send(transaction(post(observation('Patient?identifier=urn:tx-cond|A'))));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const obsId = idFromLocation(res.body.entry[0].response.location, 'Observation');
    expect((await server.fhir(`Observation/${obsId}`)).body.subject.reference).toBe(`Patient/${target.id}`);
  });

  it('fails the whole transaction when a conditional reference matches nothing', async () => {
    const res = await send(
      transaction(
        post(patient('urn:tx-cond-none', 'marker')),
        post(observation('Patient?identifier=urn:tx-cond|nobody', { identifier: [{ system: 'urn:tx-cond-none', value: 'obs' }] })),
      ),
    );
    expectFailure(res, 400);
    expect(await inSystem('Patient', 'urn:tx-cond-none')).toEqual([]);
    expect(await inSystem('Observation', 'urn:tx-cond-none')).toEqual([]);
  });

  it('fails the whole transaction when a conditional reference matches several resources', async () => {
    await create(patient('urn:tx-cond', 'twice'));
    await create(patient('urn:tx-cond', 'twice'));
    const res = await send(transaction(post(patient('urn:tx-cond-many', 'marker')), post(observation('Patient?identifier=urn:tx-cond|twice'))));
    expectFailure(res, 412);
    expect(await inSystem('Patient', 'urn:tx-cond-many')).toEqual([]);
  });

  it('fails the whole transaction when a urn:uuid reference has no entry', async () => {
    const res = await send(transaction(post(patient('urn:tx-dangling', 'marker')), post(observation('urn:uuid:6c9e2b7a-0000-4000-8000-000000000000'))));
    expectFailure(res, 400);
    expect(await inSystem('Patient', 'urn:tx-dangling')).toEqual([]);
  });
});

describe('transaction: ifNoneExist and ifMatch', () => {
  it('ifNoneExist with a match creates nothing and maps the fullUrl to the existing resource', async () => {
    const existing = await create(patient('urn:tx-ine', 'A'));
    const fullUrl = 'urn:uuid:9a1f7a7e-1111-4f0e-8a55-000000000001';
    const res = await send(transaction(post(patient('urn:tx-ine', 'A'), { ifNoneExist: 'identifier=urn:tx-ine|A' }, fullUrl), post(observation(fullUrl))));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.entry[0].response.status).toBe('200 OK');
    expect(res.body.entry[1].response.status).toBe('201 Created');
    expect(await inSystem('Patient', 'urn:tx-ine')).toEqual([existing.id]);
    const obsId = idFromLocation(res.body.entry[1].response.location, 'Observation');
    expect((await server.fhir(`Observation/${obsId}`)).body.subject.reference).toBe(`Patient/${existing.id}`);
  });

  it('ifNoneExist without a match creates', async () => {
    const res = await send(transaction(post(patient('urn:tx-ine', 'new'), { ifNoneExist: 'identifier=urn:tx-ine|new' })));
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toBe('201 Created');
    const id = idFromLocation(res.body.entry[0].response.location, 'Patient');
    expect(await searchIds('Patient?identifier=urn:tx-ine|new')).toEqual([id]);
  });

  it('ifMatch with the current version updates', async () => {
    await putResource(patient('urn:tx-ifmatch', '1', { id: 'tx-ifmatch', gender: 'female' }));
    const res = await send(transaction(putEntry(patient('urn:tx-ifmatch', '1', { id: 'tx-ifmatch', gender: 'male' }), 'Patient/tx-ifmatch', { ifMatch: 'W/"1"' })));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.entry[0].response.status).toBe('200 OK');
    expect(res.body.entry[0].response.etag).toBe('W/"2"');
    expect((await server.fhir('Patient/tx-ifmatch')).body.gender).toBe('male');
  });
});

describe('transaction: processing order', () => {
  it('processes DELETE, POST, PUT, then GET, and answers in request order', async () => {
    await putResource(patient('urn:tx-order', 'del', { id: 'tx-order-del' }));
    await putResource(patient('urn:tx-order', 'upd', { id: 'tx-order-upd', gender: 'male' }));
    const res = await send(
      transaction(
        get('Patient?identifier=urn:tx-order|'),
        putEntry(patient('urn:tx-order', 'upd', { id: 'tx-order-upd', gender: 'female' })),
        post(patient('urn:tx-order', 'new')),
        del('Patient/tx-order-del'),
      ),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const statuses = res.body.entry.map((e: Json) => e.response.status);
    expect(statuses[0]).toBe('200 OK');
    expect(statuses[1]).toBe('200 OK');
    expect(statuses[2]).toBe('201 Created');
    expect(statuses[3]).toMatch(/^20[04]/);
    const newId = idFromLocation(res.body.entry[2].response.location, 'Patient');
    // the GET entry sees the transaction's own writes
    const searchset = res.body.entry[0].resource;
    expect(searchset.resourceType).toBe('Bundle');
    expect(searchset.type).toBe('searchset');
    const found = searchset.entry.filter((e: Json) => e.search?.mode === 'match');
    expect(found.map((e: Json) => e.resource.id).sort()).toEqual(['tx-order-upd', newId].sort());
    expect(found.find((e: Json) => e.resource.id === 'tx-order-upd').resource.gender).toBe('female');
    expect((await server.fhir('Patient/tx-order-del')).status).toBe(410);
  });

  it('runs a DELETE before a conditional create, so the create does not match the deleted resource', async () => {
    const doomed = await create(patient('urn:tx-order2', 'dup'));
    const res = await send(transaction(post(patient('urn:tx-order2', 'dup'), { ifNoneExist: 'identifier=urn:tx-order2|dup' }), del(`Patient/${doomed.id}`)));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.entry[0].response.status).toBe('201 Created');
    const created = idFromLocation(res.body.entry[0].response.location, 'Patient');
    expect(created).not.toBe(doomed.id);
    expect((await server.fhir(`Patient/${doomed.id}`)).status).toBe(410);
    expect(await inSystem('Patient', 'urn:tx-order2')).toEqual([created]);
  });

  it('fails when a conditional update resolves to the resource a POST of the same transaction creates', async () => {
    const res = await send(
      transaction(
        putEntry(patient('urn:tx-order3', 'A', { gender: 'male' }), 'Patient?identifier=urn:tx-order3|A'),
        post(patient('urn:tx-order3', 'A', { gender: 'female' })),
      ),
    );
    // POST runs first; the PUT's search then finds that very resource: overlapping identities fail the transaction.
    expectFailure(res, 400);
    expect(await inSystem('Patient', 'urn:tx-order3')).toEqual([]);
  });
});

describe('transaction: conditions resolved together (identifier lookups, locks only for what matches nothing)', () => {
  it('fails when a conditional update on one identifier matches the resource another entry creates under a second identifier', async () => {
    const res = await send(
      transaction(
        putEntry({ resourceType: 'Patient', identifier: [{ system: 'urn:tx-bulk1', value: 'A' }, { system: 'urn:tx-bulk1', value: 'B' }] }, 'Patient?identifier=urn:tx-bulk1|A'),
        putEntry(patient('urn:tx-bulk1', 'B', { gender: 'male' }), 'Patient?identifier=urn:tx-bulk1|B'),
      ),
    );
    expectFailure(res, 400);
    expect(await inSystem('Patient', 'urn:tx-bulk1')).toEqual([]);
  });

  it('answers 412 when an identifier condition matches two existing resources', async () => {
    await create(patient('urn:tx-bulk2', 'twin'));
    await create(patient('urn:tx-bulk2', 'twin'));
    const res = await send(transaction(putEntry(patient('urn:tx-bulk2', 'twin', { gender: 'male' }), 'Patient?identifier=urn:tx-bulk2|twin')));
    expectFailure(res, 412);
  });

  it('makes one resource when ten transactions conditionally create and update the same identifiers at once', async () => {
    const bundle = (i: number) =>
      transaction(
        putEntry(patient('urn:tx-bulk3', 'P', { gender: i % 2 ? 'male' : 'female' }), 'Patient?identifier=urn:tx-bulk3|P'),
        post({ resourceType: 'Practitioner', identifier: [{ system: 'urn:tx-bulk3', value: 'D' }] }, { ifNoneExist: 'identifier=urn:tx-bulk3|D' }),
      );
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => send(bundle(i))));
    for (const r of replies) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(await inSystem('Patient', 'urn:tx-bulk3')).toHaveLength(1);
    expect(await inSystem('Practitioner', 'urn:tx-bulk3')).toHaveLength(1);
    const created = replies.filter((r) => r.body.entry[1].response.status === '201 Created');
    expect(created).toHaveLength(1);
  });
});

describe('transaction: all or nothing', () => {
  it('writes nothing when the last entry is invalid (422)', async () => {
    await putResource(patient('urn:tx-atomic-existing', '1', { id: 'tx-atomic-existing' }));
    const res = await send(
      transaction(
        post(patient('urn:tx-atomic', '1')),
        putEntry(patient('urn:tx-atomic', '2', { id: 'tx-atomic-put' })),
        del('Patient/tx-atomic-existing'),
        post(observation('Patient/tx-atomic-existing', { identifier: [{ system: 'urn:tx-atomic', value: 'obs' }] })),
        post(patient('urn:tx-atomic', '3', { gender: 'robot' })),
      ),
    );
    expectFailure(res, 422);
    expect(JSON.stringify(res.body.issue)).toContain('Bundle.entry[4]');
    expect(JSON.stringify(res.body.issue)).toContain('Patient.gender');
    expect(await inSystem('Patient', 'urn:tx-atomic')).toEqual([]);
    expect(await inSystem('Observation', 'urn:tx-atomic')).toEqual([]);
    expect((await server.fhir('Patient/tx-atomic-put')).status).toBe(404);
    const survivor = await server.fhir('Patient/tx-atomic-existing');
    expect(survivor.status).toBe(200);
    expect(survivor.body.meta.versionId).toBe('1');
  });

  it('writes nothing when an entry has a stale ifMatch (412)', async () => {
    await putResource(patient('urn:tx-stale-existing', '1', { id: 'tx-stale', gender: 'female' }));
    await putResource(patient('urn:tx-stale-existing', '1', { id: 'tx-stale', gender: 'male' }));
    const res = await send(
      transaction(
        post(patient('urn:tx-stale', 'new')),
        putEntry(patient('urn:tx-stale-existing', '1', { id: 'tx-stale', gender: 'other' }), 'Patient/tx-stale', { ifMatch: 'W/"1"' }),
      ),
    );
    expectFailure(res, 412);
    expect(await inSystem('Patient', 'urn:tx-stale')).toEqual([]);
    const current = await server.fhir('Patient/tx-stale');
    expect(current.body.gender).toBe('male');
    expect(current.body.meta.versionId).toBe('2');
  });

  it('answers 400 when two entries target the same resource, and writes nothing', async () => {
    await putResource(patient('urn:tx-same-existing', '1', { id: 'tx-same-2', gender: 'female' }));
    await putResource(patient('urn:tx-same-existing', '2', { id: 'tx-same-3', gender: 'female' }));
    const fhirPathPatch = {
      resourceType: 'Parameters',
      parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.gender' }, { name: 'value', valueCode: 'other' }] }],
    };
    const cases: Array<[string, Json]> = [
      ['PUT + PUT', transaction(post(patient('urn:tx-same', 'a')), putEntry(patient('urn:tx-same', 'b', { id: 'tx-same-1' })), putEntry(patient('urn:tx-same', 'c', { id: 'tx-same-1' })))],
      ['PUT + DELETE', transaction(post(patient('urn:tx-same', 'd')), putEntry(patient('urn:tx-same-existing', '1', { id: 'tx-same-2', gender: 'male' })), del('Patient/tx-same-2'))],
      ['PUT + PATCH', transaction(post(patient('urn:tx-same', 'e')), putEntry(patient('urn:tx-same-existing', '2', { id: 'tx-same-3', gender: 'male' })), { resource: fhirPathPatch, request: { method: 'PATCH', url: 'Patient/tx-same-3' } })],
      ['same fullUrl twice', transaction(post(patient('urn:tx-same', 'f'), {}, 'urn:uuid:1b0c0c0c-0000-4000-8000-000000000001'), post(patient('urn:tx-same', 'g'), {}, 'urn:uuid:1b0c0c0c-0000-4000-8000-000000000001'))],
    ];
    for (const [label, bundle] of cases) {
      const res = await send(bundle);
      expect(res.status, `${label}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.resourceType, label).toBe('OperationOutcome');
    }
    expect(await inSystem('Patient', 'urn:tx-same')).toEqual([]);
    expect((await server.fhir('Patient/tx-same-1')).status).toBe(404);
    for (const id of ['tx-same-2', 'tx-same-3']) {
      const current = await server.fhir(`Patient/${id}`);
      expect(current.status, id).toBe(200);
      expect(current.body.meta.versionId, id).toBe('1');
      expect(current.body.gender, id).toBe('female');
    }
  });

  it('treats a conditional update entry like the HTTP interaction: no match and a taken id is rejected', async () => {
    // Over HTTP, PUT Patient?identifier=… with no match and a body id that belongs to another resource is a 400.
    const bystander = await putResource(patient('urn:tx-cu-bystander', '1', { id: 'tx-cu-bystander', gender: 'female' }));
    const http = await server.fhir('Patient?identifier=urn:tx-cu|nomatch', { method: 'PUT', body: patient('urn:tx-cu', 'nomatch', { id: bystander.id, gender: 'male' }) });
    expect(http.status).toBe(400);
    const res = await send(transaction(putEntry(patient('urn:tx-cu', 'nomatch', { id: bystander.id, gender: 'male' }), 'Patient?identifier=urn:tx-cu|nomatch')));
    expectFailure(res, 400);
    const current = await server.fhir(`Patient/${bystander.id}`);
    expect(current.body.gender).toBe('female');
    expect(current.body.identifier[0].system).toBe('urn:tx-cu-bystander');
    expect(current.body.meta.versionId).toBe('1');
  });
});

describe('batch', () => {
  it('runs entries independently: failures get their own status and outcome, the others succeed', async () => {
    await putResource(patient('urn:batch-existing', '1', { id: 'batch-existing' }));
    await create(patient('urn:batch-dup', 'x'));
    await create(patient('urn:batch-dup', 'x'));
    const res = await send(
      batch(
        post(patient('urn:batch', 'ok')),
        post(patient('urn:batch', 'robot', { gender: 'robot' })),
        get('Patient/batch-nobody'),
        putEntry(patient('urn:batch-existing', '1', { id: 'batch-existing', gender: 'male' }), 'Patient/batch-existing', { ifMatch: 'W/"5"' }),
        post(observation('Patient/batch-existing', { identifier: [{ system: 'urn:batch', value: 'obs' }] })),
        del('Patient?identifier=urn:batch-dup|x'),
        get('Patient/batch-existing'),
      ),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.type).toBe('batch-response');
    const statuses = res.body.entry.map((e: Json) => e.response.status.slice(0, 3));
    expect(statuses).toEqual(['201', '422', '404', '412', '201', '412', '200']);
    for (const i of [1, 2, 3, 5]) {
      expect(res.body.entry[i].response.outcome.resourceType, `entry ${i}`).toBe('OperationOutcome');
      expect(res.body.entry[i].response.outcome.issue[0].severity, `entry ${i}`).toBe('error');
      expect(res.body.entry[i].resource, `entry ${i}`).toBeUndefined();
    }
    expect(JSON.stringify(res.body.entry[1].response.outcome)).toContain('Patient.gender');
    expect(res.body.entry[6].resource.id).toBe('batch-existing');

    const okId = idFromLocation(res.body.entry[0].response.location, 'Patient');
    expect(await inSystem('Patient', 'urn:batch')).toEqual([okId]);
    expect(await inSystem('Observation', 'urn:batch')).toEqual([idFromLocation(res.body.entry[4].response.location, 'Observation')]);
    expect((await server.fhir('Patient/batch-existing')).body.meta.versionId).toBe('1');
    expect(await inSystem('Patient', 'urn:batch-dup')).toHaveLength(2);
  });
});

describe('Synthea patient bundles as transactions', () => {
  const dir = new URL('./fixtures/synthea/', import.meta.url);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

  it('has the three fixture bundles', () => {
    expect(files).toHaveLength(3);
  });

  for (const file of files) {
    it(`loads ${file.split('_').slice(0, 2).join(' ')}: one resource per entry, references resolved`, async () => {
      const bundle = JSON.parse(fs.readFileSync(new URL(file, dir), 'utf8')) as Json;
      expect(bundle.type).toBe('transaction');
      const expected = new Map<string, number>();
      for (const e of bundle.entry) expected.set(e.resource.resourceType, (expected.get(e.resource.resourceType) ?? 0) + 1);
      const before = new Map<string, number>();
      for (const type of expected.keys()) before.set(type, await count(type));

      const res = await send(bundle);
      expect(res.status, JSON.stringify(res.body).slice(0, 2000)).toBe(200);
      expect(res.body.type).toBe('transaction-response');
      expect(res.body.entry).toHaveLength(bundle.entry.length);
      expect(res.body.entry.every((e: Json) => e.response.status === '201 Created')).toBe(true);

      for (const [type, n] of expected) expect((await count(type)) - before.get(type)!, type).toBe(n);

      const patientIndex = bundle.entry.findIndex((e: Json) => e.resource.resourceType === 'Patient');
      const patientId = idFromLocation(res.body.entry[patientIndex].response.location, 'Patient');
      const obsIndex = bundle.entry.findIndex((e: Json) => e.resource.resourceType === 'Observation');
      expect(bundle.entry[obsIndex].resource.subject.reference).toBe(bundle.entry[patientIndex].fullUrl);
      const obsId = idFromLocation(res.body.entry[obsIndex].response.location, 'Observation');
      const obs = await server.fhir(`Observation/${obsId}`);
      expect(obs.body.subject.reference).toBe(`Patient/${patientId}`);
      expect(JSON.stringify(obs.body)).not.toContain('urn:uuid:');
      const observations = bundle.entry.filter((e: Json) => e.resource.resourceType === 'Observation').length;
      const bySubject = await server.fhir(`Observation?subject=Patient/${patientId}&_summary=count`);
      expect(bySubject.body.total).toBe(observations);
      const synthea = bundle.entry[patientIndex].resource.identifier[0];
      expect(await searchIds(`Patient?${new URLSearchParams([['identifier', `${synthea.system}|${synthea.value}`]])}`)).toEqual([patientId]);
    });
  }
});

describe('what is not a batch or transaction', () => {
  it('answers 400 for a non-Bundle body posted to the base', async () => {
    const res = await server.fhir('', { method: 'POST', body: patient('urn:not-bundle', '1') });
    expectFailure(res, 400);
    expect(await inSystem('Patient', 'urn:not-bundle')).toEqual([]);
  });

  it('answers 400 for Bundle types other than batch and transaction, and processes none of their entries', async () => {
    for (const type of ['collection', 'searchset', 'document']) {
      const res = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type, entry: [post(patient('urn:not-bundle', type))] } });
      expectFailure(res, 400);
      expect(res.body.issue[0].details.coding[0].code).toBe('CB_ERR_INVALID_BUNDLE');
    }
    expect(await inSystem('Patient', 'urn:not-bundle')).toEqual([]);
  });
});
