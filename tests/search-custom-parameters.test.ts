// Custom SearchParameters at runtime (http://hl7.org/fhir/R4/searchparameter.html) and the
// asynchronous $reindex that backfills them; the CapabilityStatement lists what is supported.
import { describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SEARCH_PARAMETER_POLL_MS: '200' });

const nickname = (given: string) => ({ resourceType: 'Patient', name: [{ family: 'Custom', given: ['Formal'] }, { use: 'nickname', given: [given] }] });
const ids = (bundle: any): string[] => (bundle.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();

async function waitForJob(location: string): Promise<any> {
  const path = location.slice(server.fhirBaseUrl.length + 1);
  for (let i = 0; i < 100; i++) {
    const res = await server.fhir(path);
    const status = res.body.parameter.find((p: any) => p.name === 'status').valueCode;
    if (status === 'completed' || status === 'failed') return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('reindex did not finish');
}

describe('custom search parameters', () => {
  let before: string;
  let spId: string;

  it('is unknown before it is defined', async () => {
    before = (await server.fhir('Patient', { method: 'POST', body: nickname('Xiaoming') })).body.id;
    const res = await server.fhir('Patient?nickname=Xiao', { headers: { prefer: 'handling=strict' } });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].details.coding[0].code).toBe('CB_ERR_UNKNOWN_SEARCH_PARAMETER');
  });

  it('indexes new writes as soon as the SearchParameter is stored, and is listed in the CapabilityStatement', async () => {
    const sp = await server.fhir('SearchParameter', {
      method: 'POST',
      body: {
        resourceType: 'SearchParameter',
        url: 'https://carebridge.dev/fhir/SearchParameter/patient-nickname',
        name: 'nickname',
        status: 'active',
        description: 'Nickname (HumanName.use = nickname)',
        code: 'nickname',
        base: ['Patient'],
        type: 'string',
        expression: "Patient.name.where(use = 'nickname')",
      },
    });
    expect(sp.status).toBe(201);
    spId = sp.body.id;
    const after = (await server.fhir('Patient', { method: 'POST', body: nickname('Xiaohong') })).body.id;
    const res = await server.fhir('Patient?nickname=xiao', { headers: { prefer: 'handling=strict' } });
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([after]); // the older Patient is not indexed yet
    const metadata = await server.fhir('metadata');
    const patient = metadata.body.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patient.searchParam.find((p: any) => p.name === 'nickname')).toMatchObject({ type: 'string', definition: 'https://carebridge.dev/fhir/SearchParameter/patient-nickname' });
  });

  it('$reindex backfills existing resources asynchronously, with progress', async () => {
    const queued = await server.fhir('Patient/$reindex', { method: 'POST' });
    expect(queued.status).toBe(202);
    const location = queued.headers.get('location')!;
    expect(location).toMatch(/\/\$reindex\/[0-9a-f-]{36}$/);
    const done = await waitForJob(location);
    const param = (name: string) => done.parameter.find((p: any) => p.name === name);
    expect(param('status').valueCode).toBe('completed');
    expect(param('processed').valueInteger).toBe(param('total').valueInteger);
    expect(param('progress').valueDecimal).toBe(1);
    const res = await server.fhir('Patient?nickname=xiao');
    expect(ids(res.body)).toHaveLength(2);
    expect(ids(res.body)).toContain(before);
    expect(ids((await server.fhir('Patient?nickname=formal')).body)).toEqual([]); // only the nickname, not other names
  });

  it('stops using a retired parameter', async () => {
    const current = (await server.fhir(`SearchParameter/${spId}`)).body;
    await server.fhir(`SearchParameter/${spId}`, { method: 'PUT', body: { ...current, status: 'retired' } });
    const res = await server.fhir('Patient?nickname=xiao');
    expect(res.status).toBe(200);
    expect(res.body.entry.find((e: any) => e.search.mode === 'outcome').resource.issue[0].expression).toEqual(['nickname']);
  });

  it('ignores a parameter that would shadow an R4 one or has an unusable expression, without breaking writes', async () => {
    for (const body of [
      { code: 'name', expression: 'Patient.telecom' },
      { code: 'broken', expression: 'Patient.name.where(' },
    ]) {
      const res = await server.fhir('SearchParameter', {
        method: 'POST',
        body: { resourceType: 'SearchParameter', url: `https://x/${body.code}`, name: body.code, status: 'active', description: 'x', base: ['Patient'], type: 'string', ...body },
      });
      expect(res.status).toBe(201);
    }
    expect((await server.fhir('Patient', { method: 'POST', body: nickname('Still') })).status).toBe(201);
    const named = await server.fhir('Patient?name=Custom');
    expect(ids(named.body).length).toBeGreaterThanOrEqual(3);
  });

  it('answers 404 for an unknown reindex job and 400 for an unknown type', async () => {
    expect((await server.fhir('$reindex/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await server.fhir('$reindex?type=Nope', { method: 'POST' })).status).toBe(400);
  });
});
