// Id-ordered pages walked instead of planned (src/fhir/search/walk-sql.ts): when every
// filter matches many resources, the store walks live ids in order and checks each one. The walk
// must give exactly the planner's answer — pages, next links, offsets, every filter kind — and
// fall back to the planner when its budget runs out or a filter is selective. Small limits make
// the walk happen on a few dozen resources; the planner's answer comes from a store that never
// walks.
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
  walkStore = new PgFhirStore(walking.pool, { searchWalk: { probeCap: 3, budget: 40 } });
  plannerStore = new PgFhirStore(server.pool, { searchWalk: { probeCap: Number.MAX_SAFE_INTEGER, budget: 1 } });
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


const walkSent = () => walking.sent.filter((sql) => sql.includes('OFFSET 0) AND') || /EXISTS \(SELECT 1 FROM \(/.test(sql)).length;

async function both(type: string, params: Array<[string, string]>) {
  const query = () => parseSearchQuery(type, new URLSearchParams(params), true);
  const before = walkSent();
  const walked = await walkStore.search(query());
  const usedWalk = walkSent() > before;
  const planned = await plannerStore.search(query());
  return { walked, planned, usedWalk };
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

  it('leaves selective filters, _id lists and sorted pages to the planner', async () => {
    const selective = await both('Patient', [['_id', patients.slice(0, 5).join(',')], ['gender', 'male']]);
    expect(selective.usedWalk).toBe(false);
    expect(ids(selective.walked)).toEqual(ids(selective.planned));
    const sorted = await both('Patient', [['gender', 'male'], ['_sort', 'birthdate'], ['_count', '5']]);
    expect(sorted.usedWalk).toBe(false);
    expect(ids(sorted.walked)).toEqual(ids(sorted.planned));
    const rare = await both('Patient', [['gender', 'male'], ['birthdate', 'eq1951-01-01']]);
    expect(rare.usedWalk).toBe(false);
    expect(ids(rare.walked)).toEqual([patients[1]]);
  });
});
