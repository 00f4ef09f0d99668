// Observation's combo-* search parameters (http://hl7.org/fhir/R4/observation.html#search) select
// what two other parameters select together — combo-code is code | component-code. No index rows
// are stored for them (src/fhir/search/union-params.ts): these tests hold the searches to the
// same answers, modifiers and sorting included, against the real database.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import { matchIds, q, sorted } from './helpers/bundles.ts';
import type { Json } from './helpers/bundles.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const SUBJECT = 'Patient/union-params';

async function create(resource: Json): Promise<string> {
  const res = await server.fhir('Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'final', subject: { reference: SUBJECT }, ...resource } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function search(...params: Array<[string, string]>): Promise<string[]> {
  const res = await server.fhir(q('Observation', ['subject', SUBJECT], ...params));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect((res.body.entry ?? []).filter((e: Json) => e.search?.mode === 'outcome')).toEqual([]);
  return matchIds(res.body);
}

const loinc = (code: string) => ({ coding: [{ system: LOINC, code }] });
const mmHg = (value: number) => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });

describe('combo-* parameters read their parts’ rows', () => {
  let systolic: string, panel: string, glucose: string, absent: string, concept: string;

  beforeAll(async () => {
    systolic = await create({ code: loinc('8480-6'), valueQuantity: mmHg(150) });
    panel = await create({
      code: loinc('85354-9'),
      component: [
        { code: loinc('8480-6'), valueQuantity: mmHg(120) },
        { code: loinc('8462-4'), dataAbsentReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'error' }] } },
      ],
    });
    glucose = await create({ code: loinc('2339-0'), valueQuantity: { value: 5.4, unit: 'mmol/L', system: UCUM, code: 'mmol/L' } });
    absent = await create({ code: loinc('8867-4'), dataAbsentReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'asked-unknown' }] } });
    concept = await create({ code: loinc('72166-2'), valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '8517006' }] }, component: [{ code: loinc('11367-0'), valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '160573003' }] } }] });
  });

  it('combo-code matches the code and each component code', async () => {
    expect(sorted(await search(['combo-code', `${LOINC}|8480-6`]))).toEqual(sorted([systolic, panel]));
    expect(await search(['combo-code', `${LOINC}|85354-9`])).toEqual([panel]);
    expect(await search(['combo-code', `${LOINC}|8462-4`])).toEqual([panel]);
    expect(sorted(await search(['combo-code', '2339-0,11367-0']))).toEqual(sorted([glucose, concept]));
  });

  it('combo-code:not and :missing', async () => {
    expect(sorted(await search(['combo-code:not', `${LOINC}|8480-6`]))).toEqual(sorted([glucose, absent, concept]));
    expect(await search(['combo-code:missing', 'true'])).toEqual([]);
    expect(sorted(await search(['combo-data-absent-reason:missing', 'false']))).toEqual(sorted([panel, absent]));
    expect(sorted(await search(['combo-data-absent-reason:missing', 'true']))).toEqual(sorted([systolic, glucose, concept]));
  });

  it('combo-value-quantity compares the value and each component value', async () => {
    expect(sorted(await search(['combo-value-quantity', 'gt100']))).toEqual(sorted([systolic, panel]));
    expect(await search(['combo-value-quantity', 'gt130'])).toEqual([systolic]);
    expect(await search(['combo-value-quantity', `lt10|${UCUM}|mmol/L`])).toEqual([glucose]);
  });

  it('combo-value-concept, combo-code-value-concept and combo-code-value-quantity', async () => {
    expect(await search(['combo-value-concept', 'http://snomed.info/sct|160573003'])).toEqual([concept]);
    expect(await search(['combo-code-value-concept', `${LOINC}|72166-2$http://snomed.info/sct|8517006`])).toEqual([concept]);
    expect(await search(['combo-code-value-concept', `${LOINC}|11367-0$http://snomed.info/sct|160573003`])).toEqual([concept]);
    expect(await search(['combo-code-value-concept', `${LOINC}|11367-0$http://snomed.info/sct|8517006`])).toEqual([]);
    expect(await search(['combo-code-value-quantity', `${LOINC}|8480-6$lt130`])).toEqual([panel]);
    expect(await search(['combo-code-value-quantity', `${LOINC}|8480-6$gt130`])).toEqual([systolic]);
  });

  it('sorts by a combo parameter over all the values its parts hold', async () => {
    // Ascending by the smallest combo-value-quantity: the panel's component 120 before the 150.
    expect(await search(['combo-value-quantity', 'gt100'], ['_sort', 'combo-value-quantity'])).toEqual([panel, systolic]);
    expect(await search(['combo-value-quantity', 'gt100'], ['_sort', '-combo-value-quantity'])).toEqual([systolic, panel]);
  });

  it('stores no rows under the combo codes', async () => {
    const { rows } = await server.pool.query(
      `SELECT count(*)::int AS n FROM (SELECT code FROM search_token UNION ALL SELECT code FROM search_quantity UNION ALL SELECT code FROM search_composite) s WHERE code LIKE 'combo-%'`,
    );
    expect(rows[0].n).toBe(0);
  });
});
