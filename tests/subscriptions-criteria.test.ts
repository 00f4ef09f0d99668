// Classic Subscription criteria are matched with the search engine's own semantics (issue 5): one
// subscription per search parameter type — string, token, reference, date, number, quantity, uri,
// composite — each written a matching and a non-matching resource after it is active; exactly the
// matching one is delivered (PUT {endpoint}/{type}/{id}), never what was written before the
// subscription; a modifier (:not) and a chain behave as in search.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'on', SUBSCRIPTION_POLL_MS: '50' });

const received = new Map<string, string[]>();
const hook = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    // /{case}/{type}/{id}
    const [, name, , id] = (req.url ?? '').split('/');
    received.set(name!, [...(received.get(name!) ?? []), id!]);
    res.writeHead(200).end();
  });
});
afterAll(() => new Promise<void>((resolve) => hook.close(() => resolve())));

const LOINC = 'http://loinc.org';
const obs = (code: string, value: number, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: LOINC, code }] },
  valueQuantity: { value, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
  ...extra,
});

describe('classic criteria match like search, for every parameter type', () => {
  it('delivers exactly the matching writes', async () => {
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
    const patient = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ family: '上官' }], gender: 'female' } })).body.id as string;
    const ouyang = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ family: '欧阳' }], gender: 'female' } })).body.id as string;
    // [name, criteria, matching resource, non-matching resource]
    const cases: Array<[string, string, Record<string, unknown>, Record<string, unknown>]> = [
      ['string', 'Patient?family=欧', { resourceType: 'Patient', name: [{ family: '欧阳', given: ['明'] }] }, { resourceType: 'Patient', name: [{ family: '司马' }] }],
      ['token', `Observation?code=${LOINC}|8480-6`, obs('8480-6', 120), obs('8462-4', 80)],
      ['token-not', 'Patient?gender:not=female', { resourceType: 'Patient', gender: 'male' }, { resourceType: 'Patient', gender: 'female' }],
      ['reference', `Observation?subject=Patient/${patient}`, obs('1-1', 1, { subject: { reference: `Patient/${patient}` } }), obs('1-1', 1, { subject: { reference: 'Patient/someone-else' } })],
      ['chain', 'Observation?subject:Patient.family=欧阳', obs('2-2', 1, { subject: { reference: `Patient/${ouyang}` } }), obs('2-2', 1)],
      ['date', 'Observation?code=3-3&date=ge2026-01-01', obs('3-3', 1, { effectiveDateTime: '2026-03-01T08:00:00+08:00' }), obs('3-3', 1, { effectiveDateTime: '2025-12-31T08:00:00+08:00' })],
      ['number', 'RiskAssessment?probability=gt0.5', { resourceType: 'RiskAssessment', status: 'final', subject: { reference: `Patient/${patient}` }, prediction: [{ probabilityDecimal: 0.7 }] }, { resourceType: 'RiskAssessment', status: 'final', subject: { reference: `Patient/${patient}` }, prediction: [{ probabilityDecimal: 0.2 }] }],
      ['quantity', `Observation?code=4-4&value-quantity=gt140|http://unitsofmeasure.org|mm[Hg]`, obs('4-4', 150), obs('4-4', 130)],
      ['uri', 'Questionnaire?url=https://example.org/q/a', { resourceType: 'Questionnaire', status: 'active', url: 'https://example.org/q/a' }, { resourceType: 'Questionnaire', status: 'active', url: 'https://example.org/q/b' }],
      ['composite', `Observation?code-value-quantity=${LOINC}|5-5$gt140`, obs('5-5', 160), obs('5-5', 100)],
    ];
    for (const [name, criteria] of cases) {
      const res = await server.fhir('Subscription', { method: 'POST', body: { resourceType: 'Subscription', status: 'requested', reason: name, criteria, channel: { type: 'rest-hook', endpoint: `${base}/${name}`, payload: 'application/fhir+json' } } });
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(201);
    }
    // Subscriptions receive what is written after they are active.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const statuses = ((await server.fhir('Subscription?_count=50')).body.entry ?? []).map((e: any) => e.resource.status);
      if (statuses.length >= cases.length && statuses.every((s: string) => s === 'active')) break;
      if (Date.now() > deadline) throw new Error(`subscriptions not active: ${statuses.join()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const expected = new Map<string, string>();
    for (const [name, , matching, other] of cases) {
      const yes = await server.fhir(String(matching.resourceType), { method: 'POST', body: matching });
      expect(yes.status, `${name}: ${JSON.stringify(yes.body)}`).toBe(201);
      expect((await server.fhir(String(other.resourceType), { method: 'POST', body: other })).status).toBe(201);
      expected.set(name, yes.body.id);
    }
    const wait = Date.now() + 10_000;
    while ([...expected.keys()].some((name) => !received.has(name)) && Date.now() < wait) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // nothing else may arrive
    const exactlyOne = (name: string) => expect(received.get(name), name).toEqual([expected.get(name)]);
    for (const name of ['token', 'reference', 'chain', 'date', 'number', 'quantity', 'uri', 'composite']) exactlyOne(name);
    // The string case sees only its match (the other Patients written have no such family name).
    exactlyOne('string');
    // :not=female matches the male patient and, as in search, patients with no gender (the string
    // case's two), never the female one.
    expect(received.get('token-not')).toContain(expected.get('token-not'));
    expect(received.get('token-not')).toHaveLength(3);
  });
});
