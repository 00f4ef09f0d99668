// Id-ordered pages the server plans itself (src/fhir/search/walk-sql.ts): when every filter
// matches many resources the store walks live ids in order and checks each one; when one filter
// matches few it lists that filter's ids and checks those. Both must give exactly the planner's
// answer — pages, next links, offsets, every filter kind — and a walk must fall back to the
// planner when its budget runs out. Small limits make this happen on a few dozen resources; the
// planner's answer comes from a store that never lists and whose walks never fill a page.
import { beforeAll, describe, expect, it } from 'vitest';
import { PgFhirStore } from '../src/fhir/index.ts';
import { parseSearchQuery } from '../src/fhir/search/search-query.ts';
import type { Pool } from '../src/db/pool.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

/** The SQL each store sends, read off a real pool (observed, not replaced). */
function recording(pool: Pool): { pool: Pool; sent: string[] } {
  const sent: string[] = [];
  const proxy = new Proxy(pool, {
    get(target, key) {
      if (key === 'query') {
        return (q: string | { text: string }, values?: unknown[]) => {
          sent.push(typeof q === 'string' ? q : q.text);
          return (target.query as (q: unknown, v?: unknown[]) => Promise<unknown>)(q, values);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { pool: proxy, sent };
}

let walking: ReturnType<typeof recording>;
let walkStore: PgFhirStore;
let plannerStore: PgFhirStore;
const patients: string[] = [];
let deleted: string;

beforeAll(async () => {
  walking = recording(server.pool);
  walkStore = new PgFhirStore(walking.pool, { searchWalk: { walkFrom: 3, listUpTo: 6, budget: 40 } });
  // No count reaches walkFrom (no walk) or is under listUpTo 0 (no list).
  plannerStore = new PgFhirStore(server.pool, { searchWalk: { walkFrom: Number.MAX_SAFE_INTEGER, listUpTo: 0, budget: 0 } });
  const store = new PgFhirStore(server.pool);
  for (let i = 0; i < 30; i++) {
    const patient = await store.create({ resourceType: 'Patient', gender: i % 3 === 0 ? 'female' : 'male', birthDate: `19${50 + i}-01-01` } as never);
    patients.push(patient.version.id);
    // Every third patient has the diabetes Condition, every other one hypertension.
    if (i % 3 === 0) await store.create({ resourceType: 'Condition', subject: { reference: `Patient/${patient.version.id}` }, code: { coding: [{ system: 'urn:walk:icd', code: 'E11.9' }] } } as never);
    if (i % 2 === 0) await store.create({ resourceType: 'Condition', subject: { reference: `Patient/${patient.version.id}` }, code: { coding: [{ system: 'urn:walk:icd', code: 'I10' }] } } as never);
  }
  // A deleted patient with a matching Condition: neither a walk nor a plan may return it.
  const gone = await store.create({ resourceType: 'Patient', gender: 'female' } as never);
  await store.create({ resourceType: 'Condition', subject: { reference: `Patient/${gone.version.id}` }, code: { coding: [{ system: 'urn:walk:icd', code: 'E11.9' }] } } as never);
  await store.delete('Patient', gone.version.id);
  deleted = gone.version.id;
});


/** Which of the server's page plans the walking store sent for the last search. */
const sentPlans = () => walking.sent.map((sql) => (sql.includes('ORDER BY w.id ASC LIMIT') ? 'walk' : sql.includes(') AS m(id) WHERE true') ? 'list' : 'other'));

async function both(type: string, params: Array<[string, string]>) {
  const query = () => parseSearchQuery(type, new URLSearchParams(params), true);
  const before = walking.sent.length;
  const walked = await walkStore.search(query());
  const plans = sentPlans().slice(before);
  const planned = await plannerStore.search(query());
  return { walked, planned, usedWalk: plans.includes('walk'), usedList: plans.includes('list') };
}

const ids = (r: { versions: Array<{ id: string }> }) => r.versions.map((v) => v.id);

describe('walked pages', () => {
  it('walks when every filter matches many, and answers as the planner does', async () => {
    const { walked, planned, usedWalk } = await both('Patient', [['gender', 'male'], ['birthdate', 'ge1950'], ['_count', '5']]);
    expect(usedWalk).toBe(true);
    expect(ids(walked)).toHaveLength(5);
    expect(ids(walked)).toEqual(ids(planned));
    expect(walked.next).toEqual(planned.next);
  });

  it('follows next cursors and offsets to the same pages', async () => {
    const all = await plannerStore.search(parseSearchQuery('Patient', new URLSearchParams([['gender', 'male'], ['_count', '100']]), true));
    const pages: string[] = [];
    let query = parseSearchQuery('Patient', new URLSearchParams([['gender', 'male'], ['birthdate', 'ge1900'], ['_count', '4']]), true);
    for (let guard = 0; guard < 20; guard++) {
      const page = await walkStore.search(query);
      pages.push(...ids(page));
      if (!page.next) break;
      query = { ...query, cursor: page.next };
    }
    expect(pages).toEqual(ids(all));
    const offset = await both('Patient', [['gender', 'male'], ['birthdate', 'ge1900'], ['_count', '3'], ['_offset', '6']]);
    expect(ids(offset.walked)).toEqual(ids(offset.planned));
    expect(ids(offset.walked)).toEqual(ids(all).slice(6, 9));
  });

  it('walks a reverse chain and leaves out deleted targets', async () => {
    const { walked, planned, usedWalk } = await both('Patient', [['_has:Condition:subject:code', 'urn:walk:icd|I10'], ['_count', '4']]);
    expect(usedWalk).toBe(true);
    expect(ids(walked)).toEqual(ids(planned));
    expect(ids(walked)).not.toContain(deleted);
    const every = await both('Patient', [['_has:Condition:subject:code', 'urn:walk:icd|E11.9'], ['_count', '100']]);
    expect(ids(every.walked)).toEqual(ids(every.planned));
    expect(ids(every.walked).sort()).toEqual(patients.filter((_, i) => i % 3 === 0).sort());
  });

  it('keeps :not and _lastUpdated conditions while walking', async () => {
    const { walked, planned, usedWalk } = await both('Patient', [['gender:not', 'female'], ['birthdate', 'ge1950'], ['_lastUpdated', 'gt2000-01-01'], ['_count', '6']]);
    expect(usedWalk).toBe(true);
    expect(ids(walked)).toEqual(ids(planned));
  });

  it('falls back to the planner when the budget runs out before the page is full', async () => {
    // Matches are every sixth patient: 40 ids walked cannot give 6 + 1 of them.
    const { walked, planned, usedWalk } = await both('Patient', [['_has:Condition:subject:code', 'urn:walk:icd|E11.9'], ['_has:Condition:subject:code', 'urn:walk:icd|I10'], ['_count', '6']]);
    expect(usedWalk).toBe(true);
    expect(ids(walked)).toEqual(ids(planned));
    expect(ids(walked).sort()).toEqual(patients.filter((_, i) => i % 6 === 0).sort());
  });

  it('lists after a walk comes back short, when a filter is small enough to list', async () => {
    // Both filters reach walkFrom (3), so a walk is tried; it finds 2 of the 3 rows it needs, and
    // birthdate (4 entries, under listUpTo) is listed instead.
    const { walked, planned, usedWalk, usedList } = await both('Patient', [['gender', 'female'], ['birthdate', 'le1953'], ['_count', '2']]);
    expect(usedWalk).toBe(true);
    expect(usedList).toBe(true);
    expect(ids(walked)).toEqual(ids(planned));
    expect(ids(walked).sort()).toEqual([patients[0], patients[3]].sort());
    expect(walked.next).toBeUndefined();
  });

  it('lists the ids of a filter that matches few, and leaves _id lists and sorted pages to the planner', async () => {
    const rare = await both('Patient', [['gender', 'male'], ['birthdate', 'eq1951-01-01']]);
    expect(rare.usedList).toBe(true);
    expect(rare.usedWalk).toBe(false);
    expect(ids(rare.walked)).toEqual([patients[1]]);
    const fewFemale = await both('Patient', [['gender', 'female'], ['birthdate', 'le1951'], ['_count', '1']]);
    expect(fewFemale.usedList).toBe(true);
    expect(ids(fewFemale.walked)).toEqual(ids(fewFemale.planned));
    expect(fewFemale.walked.next).toEqual(fewFemale.planned.next);
    const selective = await both('Patient', [['_id', patients.slice(0, 5).join(',')], ['gender', 'male']]);
    expect(selective.usedWalk || selective.usedList).toBe(false);
    expect(ids(selective.walked)).toEqual(ids(selective.planned));
    const sorted = await both('Patient', [['gender', 'male'], ['_sort', 'birthdate'], ['_count', '5']]);
    expect(sorted.usedWalk || sorted.usedList).toBe(false);
    expect(ids(sorted.walked)).toEqual(ids(sorted.planned));
  });

  it('starts code + value-quantity searches from the composite rows they imply, with the same answer', async () => {
    const store = new PgFhirStore(server.pool);
    const obs = (code: string, value: number, unit = 'mg/dL') =>
      store.create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:walk:loinc', code }, { system: 'urn:walk:local', code: `L-${code}` }] }, valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit } } as never);
    const high: string[] = [];
    for (let i = 0; i < 12; i++) {
      const glucose = await obs('G', i % 6 === 0 ? 250 + i : 90 + i);
      if (i % 6 === 0) high.push(glucose.version.id);
      await obs('P', 300 + i); // another code, every value above the threshold
    }
    const q = await both('Observation', [['code', 'urn:walk:loinc|G'], ['value-quantity', 'gt200']]);
    expect(q.usedList).toBe(true); // from the composite: 2 rows, under walkFrom and listUpTo
    expect(ids(q.walked).sort()).toEqual(high.sort());
    expect(ids(q.planned).sort()).toEqual(high.sort());
    // The local coding of the same code finds the same Observations; a unit leaves the filters as asked.
    expect(ids(await walkStore.search(parseSearchQuery('Observation', new URLSearchParams([['code', 'urn:walk:local|L-G'], ['value-quantity', 'gt200']]), true))).sort()).toEqual(high.sort());
    const withUnit = await both('Observation', [['code', 'urn:walk:loinc|G'], ['value-quantity', 'gt200|http://unitsofmeasure.org|mg/dL']]);
    expect(ids(withUnit.walked).sort()).toEqual(high.sort());
    const total = await walkStore.search({ ...parseSearchQuery('Observation', new URLSearchParams([['code', 'urn:walk:loinc|G'], ['value-quantity', 'le200']]), true), total: 'accurate' });
    expect(total.total).toBe(10);
  });
});
