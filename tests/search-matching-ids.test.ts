// FhirStore.matchingIds answers what a search finds — the ids only, unpaged, no content — with a
// statement that is cheap to plan (search-sql.ts searchIdsSql). The subscription engine checks
// criteria with it (criteria AND `_id` = the resources just written). Held here to the answers of
// the search itself, for filters of every kind, against the real database.
import { beforeAll, describe, expect, it } from 'vitest';
import { matchingIds, PgFhirStore } from '../src/fhir/index.ts';
import { useTestServer } from './helpers/server.ts';
import { matchIds } from './helpers/bundles.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

const ids: Record<string, string> = {};

async function create(name: string, resource: Record<string, unknown>): Promise<void> {
  const res = await server.fhir(String(resource.resourceType), { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  ids[name] = res.body.id as string;
}

describe('matchingIds', () => {
  beforeAll(async () => {
    await create('pat', { resourceType: 'Patient', name: [{ family: 'Matching' }], gender: 'female' });
    await create('other', { resourceType: 'Patient', name: [{ family: 'Other' }], gender: 'male' });
    const enc = (status: string, cls: string, patient: string) => ({
      resourceType: 'Encounter', status, class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: cls }, subject: { reference: `Patient/${ids[patient]}` },
    });
    await create('inpatientDone', enc('finished', 'IMP', 'pat'));
    await create('inpatientOpen', enc('in-progress', 'IMP', 'pat'));
    await create('ambulatoryDone', enc('finished', 'AMB', 'other'));
    await create('deleted', enc('finished', 'IMP', 'pat'));
    expect((await server.fhir(`Encounter/${ids.deleted}`, { method: 'DELETE' })).status).toBe(200);
  });

  const cases: Array<[string, Array<[string, string]>]> = [
    ['criteria of a discharge', [['status', 'finished'], ['class', 'http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP']]],
    ['no criteria', []],
    ['a chain', [['subject:Patient.gender', 'female']]],
    ['a modifier', [['status:not', 'finished']]],
    ['a missing element', [['reason-code:missing', 'true'], ['status', 'in-progress']]],
    ['_has', [['_has:Encounter:subject:status', 'finished']]],
  ];

  for (const [what, params] of cases) {
    it(`finds what the search finds: ${what}`, async () => {
      const type = what === '_has' ? 'Patient' : 'Encounter';
      const candidates = type === 'Patient' ? [ids.pat!, ids.other!] : [ids.inpatientDone!, ids.inpatientOpen!, ids.ambulatoryDone!, ids.deleted!];
      const query = new URLSearchParams([...params, ['_id', candidates.join(',')]]);
      const searched = matchIds((await server.fhir(`${type}?${query}`)).body).sort();
      const matched = [...(await matchingIds(new PgFhirStore(server.pool), type, query))].sort();
      expect(searched.length).toBeGreaterThan(0); // every case matches something: no empty agreement
      expect(matched).toEqual(searched);
      expect(matched).not.toContain(ids.deleted);
    });
  }

  it('the discharge criteria select the finished inpatient stay only', async () => {
    const query = new URLSearchParams([['status', 'finished'], ['class', 'http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP'], ['_id', [ids.inpatientDone, ids.inpatientOpen, ids.ambulatoryDone, ids.deleted].join(',')]]);
    expect([...(await matchingIds(new PgFhirStore(server.pool), 'Encounter', query))]).toEqual([ids.inpatientDone]);
  });

  it('an unknown parameter is an error, as in a strict search', async () => {
    await expect(matchingIds(new PgFhirStore(server.pool), 'Encounter', new URLSearchParams({ nonsense: 'x' }))).rejects.toThrow(/nonsense/);
  });
});
