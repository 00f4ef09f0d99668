// FHIR R4 history (http://hl7.org/fhir/R4/http.html#history): instance, type and system level,
// _since and _count, paging (http://hl7.org/fhir/R4/http.html#paging), deletes as entries with
// request.method DELETE and no resource; and patch (http://hl7.org/fhir/R4/http.html#patch) with JSON
// Patch (RFC 6902) and FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html), validation of the
// result, and If-Match version checks (http://hl7.org/fhir/R4/http.html#concurrency).
import { describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import type { FhirReply } from './helpers/server.ts';

const server = useTestServer();

type Json = Record<string, any>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function create(resource: Json): Promise<Json> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function update(resource: Json): Promise<Json> {
  const res = await server.fhir(`${resource.resourceType}/${resource.id}`, { method: 'PUT', body: resource });
  expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
  return res.body;
}

/** An instant strictly after everything written so far (and before anything written next). */
async function now(): Promise<string> {
  await sleep(10);
  const t = new Date().toISOString();
  await sleep(10);
  return t;
}

function relative(url: string): string {
  expect(url.startsWith(`${server.fhirBaseUrl}/`), url).toBe(true);
  return url.slice(server.fhirBaseUrl.length + 1);
}

const link = (bundle: Json, relation: string): string | undefined => (bundle.link ?? []).find((l: Json) => l.relation === relation)?.url;

/** `Type/id/vN` of each history entry, from its fullUrl and etag. */
function versionKeys(bundle: Json): string[] {
  return (bundle.entry ?? []).map((e: Json) => {
    const m = /\/([A-Za-z]+\/[A-Za-z0-9\-.]+)$/.exec(e.fullUrl);
    const v = /^W\/"(\d+)"$/.exec(e.response?.etag ?? '');
    expect(m, e.fullUrl).not.toBeNull();
    expect(v, e.response?.etag).not.toBeNull();
    return `${m![1]}/v${v![1]}`;
  });
}

async function history(path: string): Promise<Json> {
  const res = await server.fhir(path);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.resourceType).toBe('Bundle');
  expect(res.body.type).toBe('history');
  return res.body;
}

/** Follows next links from `first`, returning every page's version keys. */
async function walk(first: string): Promise<string[][]> {
  const pages: string[][] = [];
  let path: string | undefined = first;
  while (path) {
    expect(pages.length, 'too many pages').toBeLessThan(100);
    const body = await history(path);
    pages.push(versionKeys(body));
    const next = link(body, 'next');
    path = next ? relative(next) : undefined;
  }
  return pages;
}

const since = (t: string) => encodeURIComponent(t);

describe('history', () => {
  it('lists every version of an instance newest first, a delete as DELETE without resource', async () => {
    const v1 = await create({ resourceType: 'Patient', gender: 'male' });
    const v2 = await update({ ...v1, gender: 'female' });
    await update({ ...v2, gender: 'other' });
    expect((await server.fhir(`Patient/${v1.id}`, { method: 'DELETE' })).status).toBe(200);
    await create({ resourceType: 'Patient', gender: 'male' }); // another patient: not in this history

    const body = await history(`Patient/${v1.id}/_history`);
    expect(versionKeys(body)).toEqual([4, 3, 2, 1].map((v) => `Patient/${v1.id}/v${v}`));
    expect(body.entry.map((e: Json) => e.request.method)).toEqual(['DELETE', 'PUT', 'PUT', 'POST']);
    const [deleted, third, second, first] = body.entry;
    expect(deleted.resource).toBeUndefined();
    expect(deleted.request.url).toBe(`Patient/${v1.id}`);
    expect(third.resource.gender).toBe('other');
    expect(third.resource.meta.versionId).toBe('3');
    expect(second.resource.gender).toBe('female');
    expect(first.resource.gender).toBe('male');
    expect(first.fullUrl).toBe(`${server.fhirBaseUrl}/Patient/${v1.id}`);
  });

  it('filters by _since and pages by _count with next and previous links', async () => {
    const v1 = await create({ resourceType: 'Patient', name: [{ family: 'History' }] });
    let current = v1;
    for (const family of ['Two', 'Three', 'Four', 'Five']) current = await update({ ...current, name: [{ family }] });
    const v2Time = (await server.fhir(`Patient/${v1.id}/_history/2`)).body.meta.lastUpdated as string;

    const sinceV2 = await history(`Patient/${v1.id}/_history?_since=${since(v2Time)}`);
    expect(versionKeys(sinceV2)).toEqual([5, 4, 3, 2].map((v) => `Patient/${v1.id}/v${v}`));
    const afterLast = await history(`Patient/${v1.id}/_history?_since=${since(await now())}`);
    expect(afterLast.entry ?? []).toHaveLength(0);

    const pages = await walk(`Patient/${v1.id}/_history?_count=2`);
    expect(pages).toEqual([
      [`Patient/${v1.id}/v5`, `Patient/${v1.id}/v4`],
      [`Patient/${v1.id}/v3`, `Patient/${v1.id}/v2`],
      [`Patient/${v1.id}/v1`],
    ]);
    const second = await history(relative(link(await history(`Patient/${v1.id}/_history?_count=2`), 'next')!));
    expect(versionKeys(await history(relative(link(second, 'previous')!)))).toEqual(pages[0]);
  });

  it('lists the versions of a type and of the whole system since an instant', async () => {
    const t0 = await now();
    const p = await create({ resourceType: 'Patient', gender: 'male' });
    await update({ ...p, gender: 'female' });
    const o = await create({ resourceType: 'Observation', status: 'final', code: { text: 'history' }, subject: { reference: `Patient/${p.id}` } });
    expect((await server.fhir(`Observation/${o.id}`, { method: 'DELETE' })).status).toBe(200);
    const q = await create({ resourceType: 'Patient', gender: 'other' });

    const type = await history(`Patient/_history?_since=${since(t0)}`);
    expect(versionKeys(type)).toEqual([`Patient/${q.id}/v1`, `Patient/${p.id}/v2`, `Patient/${p.id}/v1`]);

    const system = await history(`_history?_since=${since(t0)}`);
    expect(versionKeys(system)).toEqual([`Patient/${q.id}/v1`, `Observation/${o.id}/v2`, `Observation/${o.id}/v1`, `Patient/${p.id}/v2`, `Patient/${p.id}/v1`]);
    const observationDelete = system.entry[1];
    expect(observationDelete.request.method).toBe('DELETE');
    expect(observationDelete.resource).toBeUndefined();

    const observations = await history(`Observation/_history?_since=${since(t0)}`);
    expect(versionKeys(observations)).toEqual([`Observation/${o.id}/v2`, `Observation/${o.id}/v1`]);
  });

  it('pages type and system history with _count without duplicates or gaps', async () => {
    const t0 = await now();
    const expected: string[] = [];
    for (let i = 0; i < 6; i++) {
      const p = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:history-paging', value: String(i) }] });
      expected.push(`Patient/${p.id}/v1`);
      if (i % 2 === 0) {
        await update({ ...p, gender: 'female' });
        expected.push(`Patient/${p.id}/v2`);
      }
    }
    for (const path of [`Patient/_history?_since=${since(t0)}&_count=4`, `_history?_since=${since(t0)}&_count=4`]) {
      const pages = await walk(path);
      expect(pages.map((pg) => pg.length), path).toEqual([4, 4, 1]);
      const all = pages.flat();
      expect(new Set(all).size, path).toBe(all.length);
      expect([...all].sort(), path).toEqual([...expected].sort());
    }
  });

  it('keeps pages stable while new versions are written between them', async () => {
    const t0 = await now();
    const patients: Json[] = [];
    for (let i = 0; i < 6; i++) patients.push(await create({ resourceType: 'Patient', identifier: [{ system: 'urn:history-stable', value: String(i) }] }));
    const expected = patients.map((p) => `Patient/${p.id}/v1`);

    const first = await history(`Patient/_history?_since=${since(t0)}&_count=2`);
    const seen = versionKeys(first);
    await sleep(5);
    // New versions of resources already listed and of not yet listed ones, and new resources.
    for (const p of patients) await update({ ...p, gender: 'male' });
    await create({ resourceType: 'Patient', identifier: [{ system: 'urn:history-stable', value: 'late' }] });

    let next = link(first, 'next');
    while (next) {
      const page = await history(relative(next));
      seen.push(...versionKeys(page));
      next = link(page, 'next');
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...expected].sort());
  });

  it('pages through versions written by one transaction (same lastUpdated) without duplicates or gaps', async () => {
    const t0 = await now();
    const entry = Array.from({ length: 30 }, (_, i) => ({
      request: { method: 'POST', url: 'Patient' },
      resource: { resourceType: 'Patient', identifier: [{ system: 'urn:history-tx', value: String(i) }] },
    }));
    const tx = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry } });
    expect(tx.status).toBe(200);
    const expected = tx.body.entry.map((e: Json) => `Patient/${e.resource.id}/v1`).sort();

    for (const path of [`Patient/_history?_since=${since(t0)}&_count=7`, `_history?_since=${since(t0)}&_count=7`]) {
      const pages = await walk(path);
      expect(pages.map((pg) => pg.length), path).toEqual([7, 7, 7, 7, 2]);
      const all = pages.flat();
      expect(all.length - new Set(all).size, `${path}: duplicates`).toBe(0);
      expect([...all].sort(), path).toEqual(expected);
    }
  });

  it('answers 404 for an unknown instance and 400 for malformed _since and _count', async () => {
    const unknown = await server.fhir('Patient/never-existed/_history');
    expect(unknown.status).toBe(404);
    expect(unknown.body.resourceType).toBe('OperationOutcome');
    for (const path of ['Patient/_history?_since=yesterday', '_history?_since=2024-13-01', 'Patient/_history?_count=abc', '_history?_count=-1']) {
      const res = await server.fhir(path);
      expect(res.status, path).toBe(400);
      expect(res.body.resourceType, path).toBe('OperationOutcome');
      expect(res.body.issue[0].details.coding[0].code, path).toBe('CB_ERR_INVALID_SEARCH');
    }
  });
});

describe('patch', () => {
  const jsonPatch = (ops: Json[], headers: Record<string, string> = {}) => ({
    method: 'PATCH',
    body: ops,
    headers: { 'content-type': 'application/json-patch+json', ...headers },
  });
  const fhirPathPatch = (...operations: Json[][]) => ({
    method: 'PATCH',
    body: { resourceType: 'Parameters', parameter: operations.map((part) => ({ name: 'operation', part })) },
  });

  async function versionOf(id: string): Promise<string> {
    return (await server.fhir(`Patient/${id}`)).body.meta.versionId;
  }

  function expectPatchError(res: FhirReply, statuses: number[]): void {
    expect(statuses, JSON.stringify(res.body)).toContain(res.status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].severity).toBe('error');
  }

  it('applies a JSON Patch as a new version', async () => {
    const p = await create({ resourceType: 'Patient', gender: 'male', name: [{ family: 'Patch', given: ['Json'] }] });
    const res = await server.fhir(
      `Patient/${p.id}`,
      jsonPatch([
        { op: 'replace', path: '/gender', value: 'female' },
        { op: 'add', path: '/birthDate', value: '1970-01-01' },
        { op: 'add', path: '/name/0/given/-', value: 'Second' },
      ]),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.meta.versionId).toBe('2');
    expect(res.headers.get('etag')).toBe('W/"2"');
    expect(res.body.gender).toBe('female');
    const read = await server.fhir(`Patient/${p.id}`);
    expect(read.body.birthDate).toBe('1970-01-01');
    expect(read.body.name[0].given).toEqual(['Json', 'Second']);
    expect((await server.fhir(`Patient/${p.id}/_history/1`)).body.gender).toBe('male');
    const found = await server.fhir(`Patient?_id=${p.id}&gender=female`);
    expect(found.body.entry.map((e: Json) => e.resource.id)).toEqual([p.id]);
  });

  it('applies a FHIRPath Patch (Parameters) as a new version', async () => {
    const p = await create({ resourceType: 'Patient', gender: 'male', active: true, name: [{ family: 'Patch' }] });
    const res = await server.fhir(
      `Patient/${p.id}`,
      fhirPathPatch(
        [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.gender' }, { name: 'value', valueCode: 'female' }],
        [{ name: 'type', valueCode: 'add' }, { name: 'path', valueString: 'Patient' }, { name: 'name', valueString: 'birthDate' }, { name: 'value', valueDate: '1980-02-03' }],
        [{ name: 'type', valueCode: 'delete' }, { name: 'path', valueString: 'Patient.active' }],
      ),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.meta.versionId).toBe('2');
    const read = (await server.fhir(`Patient/${p.id}`)).body;
    expect(read.gender).toBe('female');
    expect(read.birthDate).toBe('1980-02-03');
    expect(read.active).toBeUndefined();
    expect(read.name).toEqual([{ family: 'Patch' }]);
  });

  it('rejects a failing JSON Patch test operation and makes no new version', async () => {
    const p = await create({ resourceType: 'Patient', gender: 'female' });
    const res = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'test', path: '/gender', value: 'male' }, { op: 'replace', path: '/gender', value: 'other' }]));
    expectPatchError(res, [400, 422]);
    expect(res.body.issue[0].details.coding[0].code).toBe('CB_ERR_INVALID_PATCH');
    expect(await versionOf(p.id)).toBe('1');
    expect((await server.fhir(`Patient/${p.id}`)).body.gender).toBe('female');
    // the same test with the right value passes
    const ok = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'test', path: '/gender', value: 'female' }, { op: 'replace', path: '/gender', value: 'other' }]));
    expect(ok.status).toBe(200);
    expect(ok.body.meta.versionId).toBe('2');
  });

  it('rejects a patch whose result is invalid with 422 and makes no new version', async () => {
    const p = await create({ resourceType: 'Patient', gender: 'female' });
    const res = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'replace', path: '/gender', value: 'robot' }]));
    expectPatchError(res, [422]);
    expect(JSON.stringify(res.body.issue.map((i: Json) => i.expression))).toContain('Patient.gender');
    const fp = await server.fhir(`Patient/${p.id}`, fhirPathPatch([{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.gender' }, { name: 'value', valueCode: 'robot' }]));
    expectPatchError(fp, [422]);
    expect(await versionOf(p.id)).toBe('1');
  });

  it('rejects a patch that changes the id with 400', async () => {
    const p = await create({ resourceType: 'Patient', gender: 'female' });
    const res = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'replace', path: '/id', value: 'patched-id' }]));
    expectPatchError(res, [400]);
    expect(await versionOf(p.id)).toBe('1');
    expect((await server.fhir('Patient/patched-id')).status).toBe(404);
    const type = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'replace', path: '/resourceType', value: 'Person' }]));
    expectPatchError(type, [400]);
    expect(await versionOf(p.id)).toBe('1');
  });

  it('checks If-Match: the current version patches, a stale one is 412', async () => {
    const p = await create({ resourceType: 'Patient', gender: 'female' });
    const ok = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'replace', path: '/gender', value: 'male' }], { 'if-match': 'W/"1"' }));
    expect(ok.status).toBe(200);
    expect(ok.body.meta.versionId).toBe('2');
    const stale = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'replace', path: '/gender', value: 'other' }], { 'if-match': 'W/"1"' }));
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    expect(stale.body.issue[0].details.coding[0].code).toBe('CB_ERR_VERSION_CONFLICT');
    const read = await server.fhir(`Patient/${p.id}`);
    expect(read.body.meta.versionId).toBe('2');
    expect(read.body.gender).toBe('male');
  });

  it('answers 404 for an unknown resource, 410 for a deleted one, and 400 for a body that is not a patch', async () => {
    const unknown = await server.fhir('Patient/no-such-patient', jsonPatch([{ op: 'replace', path: '/gender', value: 'male' }]));
    expectPatchError(unknown, [404]);
    const p = await create({ resourceType: 'Patient', gender: 'female' });
    for (const body of [{ op: 'replace', path: '/gender', value: 'male' }, [{ op: 'frobnicate', path: '/gender' }], [{ op: 'replace' }]]) {
      const res = await server.fhir(`Patient/${p.id}`, { method: 'PATCH', body, headers: { 'content-type': 'application/json-patch+json' } });
      expectPatchError(res, [400]);
    }
    const removeMissing = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'remove', path: '/birthDate' }]));
    expectPatchError(removeMissing, [400, 422]);
    expect(await versionOf(p.id)).toBe('1');
    expect((await server.fhir(`Patient/${p.id}`, { method: 'DELETE' })).status).toBe(200);
    const gone = await server.fhir(`Patient/${p.id}`, jsonPatch([{ op: 'replace', path: '/gender', value: 'male' }]));
    expectPatchError(gone, [410]);
  });
});
