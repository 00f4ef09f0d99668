// FHIR R4 errors and validation: OperationOutcome for every failure and the status codes of
// http://hl7.org/fhir/R4/http.html#summary and #ops (400 bad request, 404, 405, 406, 413, 415, 422);
// resource validation (http://hl7.org/fhir/R4/validation.html) and the $validate operation
// (http://hl7.org/fhir/R4/resource-operation-validate.html); JSON only, content negotiation by Accept,
// Content-Type and _format (http://hl7.org/fhir/R4/http.html#mime-type); the capabilities interaction
// (http://hl7.org/fhir/R4/http.html#capabilities, http://hl7.org/fhir/R4/capabilitystatement.html).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, useTestServer } from './helpers/server.ts';
import type { FhirReply, TestServer } from './helpers/server.ts';

const server = useTestServer();

type Json = Record<string, any>;

/** A request with a raw string body and explicit headers; the reply parsed as JSON when possible. */
async function raw(base: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> }): Promise<FhirReply & { text: string }> {
  const res = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

function expectOutcome(res: { status: number; body: any; headers?: Headers }, status: number, errorCode?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body?.resourceType).toBe('OperationOutcome');
  expect(res.body.issue.length).toBeGreaterThan(0);
  expect(res.body.issue[0].severity).toBe('error');
  if (errorCode) expect(res.body.issue[0].details?.coding?.[0]?.code).toBe(errorCode);
  if (res.headers) expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
}

const expressions = (outcome: Json): string[] => (outcome.issue ?? []).flatMap((i: Json) => i.expression ?? []);

async function countIn(system: string): Promise<number> {
  const res = await server.fhir(`Patient?${new URLSearchParams([['identifier', `${system}|`], ['_summary', 'count']])}`);
  expect(res.status).toBe(200);
  return res.body.total as number;
}

describe('bad request bodies', () => {
  const fhirJson = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };

  it('answers invalid JSON with 400 CB_ERR_INVALID_JSON on every interaction that takes a body', async () => {
    const broken = '{"resourceType": "Patient", "gender": ';
    for (const [method, path] of [['POST', '/Patient'], ['PUT', '/Patient/x'], ['POST', ''], ['POST', '/Patient/$validate'], ['PATCH', '/Patient/x'], ['PUT', '/Patient?identifier=a|b']]) {
      const res = await raw(server.fhirBaseUrl, path!, { method, body: broken, headers: fhirJson });
      expectOutcome(res, 400, 'CB_ERR_INVALID_JSON');
    }
  });

  it('answers a body that is not a resource with 400 CB_ERR_NOT_A_RESOURCE, and accepts a real one', async () => {
    for (const body of ['{"gender":"male"}', '[{"resourceType":"Patient"}]', '"Patient"', '42', 'null', '{"resourceType":7}']) {
      const res = await raw(server.fhirBaseUrl, '/Patient', { method: 'POST', body, headers: fhirJson });
      expectOutcome(res, 400, 'CB_ERR_NOT_A_RESOURCE');
    }
    const empty = await raw(server.fhirBaseUrl, '/Patient', { method: 'POST', body: '', headers: fhirJson });
    expectOutcome(empty, 400, 'CB_ERR_NOT_A_RESOURCE');
    const emptyPut = await raw(server.fhirBaseUrl, '/Patient/empty-put', { method: 'PUT', body: '', headers: fhirJson });
    expectOutcome(emptyPut, 400, 'CB_ERR_NOT_A_RESOURCE');
    const ok = await raw(server.fhirBaseUrl, '/Patient', { method: 'POST', body: '{"resourceType":"Patient"}', headers: { 'content-type': 'application/json' } });
    expect(ok.status).toBe(201);
  });

  it('answers an unknown resourceType with a 4xx OperationOutcome', async () => {
    const inBody = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Pateint' } });
    expect(inBody.status).toBeGreaterThanOrEqual(400);
    expect(inBody.status).toBeLessThan(500);
    expect(inBody.body.resourceType).toBe('OperationOutcome');
    expect(inBody.body.issue[0].details.coding[0].code).toBe('CB_ERR_UNKNOWN_RESOURCE_TYPE');
    const inUrl = await server.fhir('Pateint', { method: 'POST', body: { resourceType: 'Pateint' } });
    expectOutcome(inUrl, 404, 'CB_ERR_UNKNOWN_RESOURCE_TYPE');
    const search = await server.fhir('Pateint?name=x');
    expectOutcome(search, 404, 'CB_ERR_UNKNOWN_RESOURCE_TYPE');
  });

  it('answers a resource of another type than the URL with 400', async () => {
    const res = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } });
    expectOutcome(res, 400, 'CB_ERR_RESOURCE_TYPE_MISMATCH');
  });
});

describe('resource validation (422)', () => {
  const cases: Array<[string, Json, string]> = [
    ['a code outside its required value set', { gender: 'robot' }, 'Patient.gender'],
    ['an impossible date', { birthDate: '1960-13-45' }, 'Patient.birthDate'],
    ['an unknown element', { foo: 1 }, 'Patient.foo'],
    ['a string where a boolean belongs', { active: 'yes' }, 'Patient.active'],
    ['a nested element of the wrong type', { name: [{ family: ['Smith'] }] }, 'Patient.name'],
  ];

  for (const [what, extra, expression] of cases) {
    it(`rejects ${what} naming ${expression}, and stores nothing`, async () => {
      const system = `urn:invalid:${expression}`;
      const body = { resourceType: 'Patient', identifier: [{ system, value: '1' }], ...extra };
      const res = await server.fhir('Patient', { method: 'POST', body });
      expectOutcome(res, 422);
      expect(expressions(res.body).some((e) => e.startsWith(expression)), JSON.stringify(res.body)).toBe(true);
      const put = await server.fhir('Patient/invalid-put', { method: 'PUT', body: { ...body, id: 'invalid-put' } });
      expectOutcome(put, 422);
      expect(await countIn(system)).toBe(0);
    });
  }

  it('accepts the valid counterparts', async () => {
    const res = await server.fhir('Patient', {
      method: 'POST',
      body: { resourceType: 'Patient', identifier: [{ system: 'urn:valid', value: '1' }], gender: 'female', birthDate: '1960-12-31', active: true, name: [{ family: 'Smith' }] },
    });
    expect(res.status).toBe(201);
    expect(await countIn('urn:valid')).toBe(1);
  });

  it('reports every problem of a resource, not only the first', async () => {
    const res = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', gender: 'robot', birthDate: '1960-13-45' } });
    expectOutcome(res, 422);
    const found = expressions(res.body);
    expect(found.some((e) => e.startsWith('Patient.gender'))).toBe(true);
    expect(found.some((e) => e.startsWith('Patient.birthDate'))).toBe(true);
  });
});

describe('$validate', () => {
  const invalid = { resourceType: 'Patient', identifier: [{ system: 'urn:validate', value: '1' }], gender: 'robot' };
  const valid = { resourceType: 'Patient', identifier: [{ system: 'urn:validate', value: '2' }], gender: 'male' };

  function expectErrors(res: FhirReply, expression: string): void {
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.resourceType).toBe('OperationOutcome');
    const errors = res.body.issue.filter((i: Json) => i.severity === 'error' || i.severity === 'fatal');
    expect(errors.length).toBeGreaterThan(0);
    expect(expressions(res.body).some((e) => e.startsWith(expression)), JSON.stringify(res.body)).toBe(true);
  }

  function expectValid(res: FhirReply): void {
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.filter((i: Json) => i.severity === 'error' || i.severity === 'fatal')).toHaveLength(0);
    expect(res.body.issue.some((i: Json) => i.severity === 'information')).toBe(true);
  }

  it('at type level: errors for an invalid resource, information for a valid one', async () => {
    expectErrors(await server.fhir('Patient/$validate', { method: 'POST', body: invalid }), 'Patient.gender');
    expectValid(await server.fhir('Patient/$validate', { method: 'POST', body: valid }));
  });

  it('at instance level', async () => {
    const existing = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient' } });
    expectErrors(await server.fhir(`Patient/${existing.body.id}/$validate`, { method: 'POST', body: { ...invalid, id: existing.body.id } }), 'Patient.gender');
    expectValid(await server.fhir(`Patient/${existing.body.id}/$validate`, { method: 'POST', body: { ...valid, id: existing.body.id } }));
    expect((await server.fhir(`Patient/${existing.body.id}`)).body.meta.versionId).toBe('1');
  });

  it('with a Parameters body carrying the resource part', async () => {
    const params = (resource: Json) => ({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource }] });
    expectErrors(await server.fhir('Patient/$validate', { method: 'POST', body: params(invalid) }), 'Patient.gender');
    expectValid(await server.fhir('Patient/$validate', { method: 'POST', body: params(valid) }));
    const noResource = await server.fhir('Patient/$validate', { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'create' }] } });
    expectOutcome(noResource, 400);
  });

  it('stores nothing', async () => {
    expect(await countIn('urn:validate')).toBe(0);
  });
});

describe('media types', () => {
  it('answers XML in Accept with 406, but serves JSON when JSON is acceptable too', async () => {
    const xml = await raw(server.fhirBaseUrl, '/Patient', { headers: { accept: 'application/fhir+xml' } });
    expectOutcome(xml, 406, 'CB_ERR_NOT_ACCEPTABLE');
    const both = await raw(server.fhirBaseUrl, '/Patient', { headers: { accept: 'application/fhir+xml;q=1.0, application/fhir+json;q=0.9' } });
    expect(both.status).toBe(200);
    expect(both.body.resourceType).toBe('Bundle');
    const json = await raw(server.fhirBaseUrl, '/metadata', { headers: { accept: 'application/json' } });
    expect(json.status).toBe(200);
  });

  it('answers an XML body with 406 and stores nothing', async () => {
    const res = await raw(server.fhirBaseUrl, '/Patient', {
      method: 'POST',
      body: '<Patient xmlns="http://hl7.org/fhir"><identifier><system value="urn:xml"/><value value="1"/></identifier></Patient>',
      headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' },
    });
    expectOutcome(res, 406, 'CB_ERR_NOT_ACCEPTABLE');
    expect(await countIn('urn:xml')).toBe(0);
  });

  it('answers _format=xml with 406, and accepts _format=json', async () => {
    for (const format of ['xml', 'application/fhir+xml', 'text/xml']) {
      const res = await raw(server.fhirBaseUrl, `/Patient?${new URLSearchParams([['_format', format]])}`, { headers: { accept: 'application/fhir+json' } });
      expectOutcome(res, 406, 'CB_ERR_NOT_ACCEPTABLE');
    }
    const json = await raw(server.fhirBaseUrl, '/Patient?_format=json', {});
    expect(json.status).toBe(200);
  });

  it('answers an unsupported Content-Type with 415', async () => {
    for (const type of ['text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x']) {
      const res = await raw(server.fhirBaseUrl, '/Patient', { method: 'POST', body: '{"resourceType":"Patient"}', headers: { 'content-type': type } });
      expectOutcome(res, 415, 'CB_ERR_UNSUPPORTED_MEDIA_TYPE');
    }
  });
});

describe('request body limit', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ MAX_BODY_BYTES: '2048' });
  });
  afterAll(async () => {
    await small?.stop();
  });

  it('answers a body over MAX_BODY_BYTES with 413 and stores nothing; a smaller body passes', async () => {
    const big = { resourceType: 'Patient', identifier: [{ system: 'urn:big', value: '1' }], text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(3000)}</div>` } };
    const res = await small.fhir('Patient', { method: 'POST', body: big });
    expectOutcome(res, 413, 'CB_ERR_BODY_TOO_LARGE');
    const bundle = await small.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: big, request: { method: 'POST', url: 'Patient' } }] } });
    expectOutcome(bundle, 413, 'CB_ERR_BODY_TOO_LARGE');
    const count = await small.fhir('Patient?identifier=urn:big|&_summary=count');
    expect(count.body.total).toBe(0);
    const fits = await small.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', identifier: [{ system: 'urn:big', value: '2' }] } });
    expect(fits.status).toBe(201);
  });
});

describe('paths and methods', () => {
  it('answers unknown paths with 404 OperationOutcomes', async () => {
    for (const path of ['/Patient/1/foo/bar', '/Patient/1/foo', '/Patient/1/_history/1/extra', '/Patient/1/foo/bar/baz/qux']) {
      const res = await raw(server.fhirBaseUrl, path, { headers: { accept: 'application/fhir+json' } });
      expectOutcome(res, 404);
    }
    const outside = await raw(server.url, '/nothing', { headers: { accept: 'application/fhir+json' } });
    expectOutcome(outside, 404);
  });

  it('answers a method the path does not support with 405', async () => {
    for (const [method, path] of [['DELETE', '/metadata'], ['POST', '/metadata'], ['PATCH', '/Patient'], ['PUT', ''], ['GET', ''], ['POST', '/Patient/1'], ['GET', '/Patient/_search'], ['DELETE', '/_history'], ['POST', '/Patient/1/_history']]) {
      const res = await raw(server.fhirBaseUrl, path!, { method, headers: { accept: 'application/fhir+json' } });
      expectOutcome(res, 405, 'CB_ERR_METHOD_NOT_ALLOWED');
    }
  });
});

describe('no server errors on hostile input', () => {
  it('does not fail with 500 on a NUL character in a resource', async () => {
    const res = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', identifier: [{ system: 'urn:nul', value: '1' }], name: [{ family: 'a\u0000b' }] } });
    expect(res.status, JSON.stringify(res.body)).not.toBe(500);
    if (res.status === 201) {
      // If stored, it must read back as sent.
      expect((await server.fhir(`Patient/${res.body.id}`)).body.name[0].family).toBe('a\u0000b');
    } else {
      expectOutcome(res, res.status);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('stores and finds long names in non-Latin scripts (index entries are bounded in bytes, not characters)', async () => {
    // 1,000 distinct CJK characters are 3,000 bytes of UTF-8, beyond what one PostgreSQL B-tree entry holds.
    const text = Array.from({ length: 1200 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20000))).join('');
    const res = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', identifier: [{ system: 'urn:long', value: text }], name: [{ family: text }] } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const found = await server.fhir(`Patient?${new URLSearchParams([['family', text.slice(0, 20)]])}`);
    expect(found.body.entry.map((e: Json) => e.resource.id)).toEqual([res.body.id]);
  });

  it('does not silently change a number it cannot represent', async () => {
    const body = '{"resourceType":"Observation","status":"final","code":{"text":"big"},"valueQuantity":{"value":1e400}}';
    const res = await raw(server.fhirBaseUrl, '/Observation', { method: 'POST', body, headers: { 'content-type': 'application/fhir+json' } });
    expect(res.status, res.text).not.toBe(500);
    if (res.status === 201) expect(res.body.valueQuantity.value, 'stored value differs from the one sent').not.toBeNull();
    else expectOutcome(res, res.status);
  });
});

describe('capabilities', () => {
  it('GET /metadata is a CapabilityStatement describing this server', async () => {
    const res = await server.fhir('metadata');
    expect(res.status).toBe(200);
    const cs = res.body;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.kind).toBe('instance');
    expect(cs.format).toContain('application/fhir+json');
    expect(cs.format).not.toContain('xml');
    const rest = cs.rest[0];
    expect(rest.mode).toBe('server');
    expect(rest.interaction.map((i: Json) => i.code).sort()).toEqual(['batch', 'history-system', 'transaction']);
    const patient = rest.resource.find((r: Json) => r.type === 'Patient');
    expect(patient.interaction.map((i: Json) => i.code).sort()).toEqual(
      ['create', 'delete', 'history-instance', 'history-type', 'patch', 'read', 'search-type', 'update', 'vread'].sort(),
    );
    const params = new Map<string, string>(patient.searchParam.map((p: Json) => [p.name, p.type]));
    expect(params.get('name')).toBe('string');
    expect(params.get('identifier')).toBe('token');
    expect(params.get('birthdate')).toBe('date');
    expect(params.get('gender')).toBe('token');
    expect(params.has('phonetic')).toBe(true);
    expect(patient.conditionalCreate).toBe(true);
    expect(patient.conditionalUpdate).toBe(true);
    expect(patient.conditionalDelete).toBe('single');
    expect(rest.resource.find((r: Json) => r.type === 'Observation').searchParam.some((p: Json) => p.name === 'value-quantity' && p.type === 'quantity')).toBe(true);
  });
});
