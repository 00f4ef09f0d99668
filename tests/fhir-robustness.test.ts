// "Bad input never yields 500" (FHIR R4 http.html §3.1.0.4): hostile and random input against the
// real server — NUL characters, huge values, random JSON shapes, random search strings and paths —
// must always get a 4xx OperationOutcome (or succeed), never a 5xx.
import { describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

/** Small deterministic PRNG so a failure can be reproduced. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('hostile values', () => {
  it('rejects control characters in strings with 422 naming the element', async () => {
    const res = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ family: 'Nul\u0000Family' }] } });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body.issue.map((i: any) => i.expression))).toContain('Patient.name[0].family');
  });

  it('stores very long strings and identifiers (beyond index limits) and still finds them by prefix', async () => {
    const long = '长'.repeat(5000);
    const res = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ family: 'Longname', given: [long] }], identifier: [{ system: 'urn:x', value: `v${'9'.repeat(4000)}` }] } });
    expect(res.status).toBe(201);
    expect(res.body.name[0].given[0]).toBe(long);
    expect((await server.fhir(`Patient?given=${encodeURIComponent('长'.repeat(10))}`)).body.entry.map((e: any) => e.resource.id)).toEqual([res.body.id]);
  });

  it('rejects NUL in search parameters with 400', async () => {
    const res = await server.fhir('Patient?name=a%00b');
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('handles extreme numbers and dates in searches without errors', async () => {
    for (const qs of ['Observation?value-quantity=1e400', 'Observation?value-quantity=-0.0000000001', 'Patient?birthdate=0001', 'Patient?birthdate=9999-12-31T23:59:59.999Z', 'RiskAssessment?probability=gt1e-300', 'Patient?_count=99999999999999999999', 'Patient?_offset=99999999999']) {
      const res = await server.fhir(qs);
      expect(res.status, qs).toBeLessThan(500);
    }
  });
});

describe('random input never causes a 5xx', () => {
  const values = (r: () => number): unknown[] => [null, true, 0, -1.5, 1e308, '', 'x', '\u0000', '张三', [], {}, [1, 'a'], { a: { b: [] } }, 'x'.repeat(3000), Math.floor(r() * 1e9)];
  const pick = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;

  it('random resource bodies', async () => {
    const r = prng(20261123);
    const base = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, subject: { reference: 'Patient/1' }, valueQuantity: { value: 120, unit: 'mmHg' }, effectiveDateTime: '2024-03-01T10:00:00Z' };
    const keys = ['status', 'code', 'subject', 'valueQuantity', 'effectiveDateTime', 'id', 'meta', 'resourceType', 'component', 'extension', 'contained', 'text'];
    for (let i = 0; i < 150; i++) {
      const body: Record<string, unknown> = structuredClone(base);
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++) body[pick(r, keys)] = pick(r, values(r));
      const method = pick(r, ['POST', 'PUT', 'PATCH']);
      const path = method === 'POST' ? 'Observation' : 'Observation/fuzz-1';
      const res = await server.fhir(path, { method, body });
      expect(res.status, `${method} ${JSON.stringify(body).slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('random search strings and paths', async () => {
    const r = prng(7);
    const names = ['name', 'birthdate', 'identifier', 'general-practitioner', 'gender', '_id', '_lastUpdated', '_count', '_sort', '_total', 'address-postalcode', 'death-date', 'name:exact', 'name:contains', 'gender:not', 'birthdate:missing', 'foo', '_has', 'organization.name', ':', ''];
    const vals = ['', ',', '|', '\\', '\\,', 'ge', 'gt2024', 'eq', 'ap2024-02-30', '2024-01-01T25:61', 'a|b|c', 'Patient/', '/', '%', '_', '张', 'true', 'maybe', '-1', '1e9999', 'Patient/1/_history/x'];
    for (let i = 0; i < 200; i++) {
      const qs = Array.from({ length: 1 + Math.floor(r() * 3) }, () => `${encodeURIComponent(pick(r, names))}=${encodeURIComponent(pick(r, vals))}`).join('&');
      const res = await server.fhir(`Patient?${qs}`);
      expect(res.status, qs).toBeLessThan(500);
    }
    const segments = ['Patient', 'Observation', '_history', '_search', '$validate', '$everything', 'metadata', 'x', '1', '..', '%2F', '%E5%BC%A0', '_history/1'];
    for (let i = 0; i < 100; i++) {
      const path = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(r, segments)).join('/');
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        const res = await server.fhir(path, method === 'GET' || method === 'DELETE' ? { method } : { method, body: { resourceType: 'Patient' } });
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
      }
    }
  });

  it('random batch and transaction Bundles', async () => {
    const r = prng(99);
    const entryParts = {
      fullUrl: ['urn:uuid:1', 'urn:uuid:1', 'http://x/Patient/1', 42, null],
      method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'TRACE', '', null],
      url: ['Patient', 'Patient/1', 'Patient?identifier=a|b', 'Patient?', '', '/', 'http://elsewhere/Patient', 'Patient/1/_history/1', 'metadata', '_history', 'Observation?subject=urn:uuid:1', null],
      resource: [{ resourceType: 'Patient' }, { resourceType: 'Patient', id: '1' }, { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:1' } }, { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:missing' } }, { resourceType: 'Patient', managingOrganization: { reference: 'Organization?identifier=none|none' } }, { resourceType: 'Nope' }, [], 'x', null],
      ifMatch: [undefined, 'W/"1"', 'junk'],
      ifNoneExist: [undefined, 'identifier=a|b', '', 'foo=bar'],
    };
    for (let i = 0; i < 80; i++) {
      const entry = () => ({
        fullUrl: pick(r, entryParts.fullUrl),
        resource: pick(r, entryParts.resource),
        request: r() < 0.1 ? undefined : { method: pick(r, entryParts.method), url: pick(r, entryParts.url), ifMatch: pick(r, entryParts.ifMatch), ifNoneExist: pick(r, entryParts.ifNoneExist) },
      });
      const bundle = { resourceType: 'Bundle', type: pick(r, ['batch', 'transaction', 'transaction', 'collection', null]), entry: r() < 0.05 ? {} : Array.from({ length: Math.floor(r() * 5) }, entry) };
      const res = await server.fhir('', { method: 'POST', body: bundle });
      expect(res.status, JSON.stringify(bundle).slice(0, 500)).toBeLessThan(500);
      expect(res.body.resourceType).toMatch(/^(Bundle|OperationOutcome)$/);
    }
  });
});
