// FHIR R4 paging of search results (http://hl7.org/fhir/R4/http.html#paging,
// http://hl7.org/fhir/R4/search.html#count): walking `next` and `previous` links with _count, in the
// default order and under _sort (http://hl7.org/fhir/R4/search.html#sort); pages stay consistent while
// resources are created and deleted between requests ("the server SHOULD ensure that the paged
// results are consistent", http://hl7.org/fhir/R4/http.html#paging); and a tampered paging link is
// rejected with an OperationOutcome (http://hl7.org/fhir/R4/search.html#errors).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import { link, matchIds, q, sorted } from './helpers/bundles.ts';
import type { Json } from './helpers/bundles.ts';

const server = useTestServer();

/** Relative path of a Bundle link under this server's FHIR base. */
function relative(url: string): string {
  expect(url.startsWith(`${server.fhirBaseUrl}/`), url).toBe(true);
  return url.slice(server.fhirBaseUrl.length + 1);
}

async function get(path: string): Promise<Json> {
  const res = await server.fhir(path);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  expect(res.body.type).toBe('searchset');
  return res.body;
}

/** Follows `next` links from `first`; the pages' match ids and the Bundles. */
async function walk(first: string, between?: (pageNumber: number) => Promise<void>): Promise<{ pages: string[][]; bundles: Json[] }> {
  const pages: string[][] = [];
  const bundles: Json[] = [];
  let path: string | undefined = first;
  while (path) {
    expect(pages.length, 'too many pages').toBeLessThan(30);
    const bundle = await get(path);
    pages.push(matchIds(bundle));
    bundles.push(bundle);
    const next = link(bundle, 'next');
    path = next ? relative(next) : undefined;
    if (path && between) await between(pages.length);
  }
  return { pages, bundles };
}

const byId = (a: Json, b: Json) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
/** Compares optional values ascending (or descending), missing values last either way. */
const byValue = (get: (r: Json) => string | undefined, descending = false) => (a: Json, b: Json) => {
  const x = get(a);
  const y = get(b);
  if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
  return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
};

describe('walking next and previous links over 55 resources', () => {
  let created: Json[];
  const FAMILIES = ['Garcia', 'Ito', 'Nguyen', 'Okafor', 'Silva', 'Wang', 'Zhou', 'Abebe', 'Haddad', 'Kowalski', 'Larsen'];

  beforeAll(async () => {
    // duplicate sort values (ties across page boundaries) and some resources without them
    const entry = (i: number) => ({
      request: { method: 'POST', url: 'Patient' },
      resource: {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:paging55', value: String(i) }],
        ...(i % 11 === 10 ? {} : { name: [{ family: FAMILIES[i % FAMILIES.length] }] }),
        ...(i % 9 === 8 ? {} : { birthDate: `19${50 + (i % 17)}-0${1 + (i % 7)}-1${i % 10}` }),
      },
    });
    const tx = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 55 }, (_, i) => entry(i)) } });
    expect(tx.status).toBe(200);
    created = await Promise.all(tx.body.entry.map(async (e: Json) => (await server.fhir(e.response.location.replace(/\/_history\/.*$/, ''))).body));
    expect(created).toHaveLength(55);
    // not part of the result
    await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', identifier: [{ system: 'urn:paging55-other', value: '1' }], name: [{ family: 'Aaa' }], birthDate: '1999-01-01' } });
  });

  const cases: Array<[string, Array<[string, string]>, ((a: Json, b: Json) => number) | undefined]> = [
    ['the default order', [], undefined],
    ['_sort=-birthdate', [['_sort', '-birthdate']], byValue((r) => r.birthDate, true)],
    ['_sort=family', [['_sort', 'family']], byValue((r) => r.name?.[0]?.family?.toLowerCase())],
  ];

  for (const [label, params, compare] of cases) {
    it(`yields each resource exactly once, in order, for ${label}`, async () => {
      const first = q('Patient', ['identifier', 'urn:paging55|'], ...params, ['_count', '10']);
      const { pages, bundles } = await walk(first);
      expect(pages.map((p) => p.length)).toEqual([10, 10, 10, 10, 10, 5]);
      const seen = pages.flat();
      expect(new Set(seen).size).toBe(55);
      expect(sorted(seen)).toEqual(sorted(created.map((r) => r.id)));
      // the same order as one big page
      const single = matchIds(await get(q('Patient', ['identifier', 'urn:paging55|'], ...params, ['_count', '100'])));
      expect(seen).toEqual(single);
      if (compare) {
        expect(seen).toEqual([...created].sort((a, b) => compare(a, b) || byId(a, b)).map((r) => r.id));
      }
      expect(link(bundles[0]!, 'previous')).toBeUndefined();
      expect(link(bundles.at(-1)!, 'next')).toBeUndefined();

      // previous from page 3 is page 2, and previous from there is page 1
      const previous = await get(relative(link(bundles[2]!, 'previous')!));
      expect(matchIds(previous)).toEqual(pages[1]);
      const before = await get(relative(link(previous, 'previous')!));
      expect(matchIds(before)).toEqual(pages[0]);
      // and next from the page reached backwards is page 3 again
      const forward = await get(relative(link(previous, 'next')!));
      expect(matchIds(forward)).toEqual(pages[2]);
      expect(link(before, 'previous')).toBeUndefined();
      // walking previous links back from the last page (where the resources without a sort value are) reproduces every page
      const back: string[][] = [];
      let prev = link(bundles.at(-1)!, 'previous');
      while (prev) {
        expect(back.length, 'too many pages').toBeLessThan(10);
        const page = await get(relative(prev));
        back.unshift(matchIds(page));
        prev = link(page, 'previous');
      }
      expect(back).toEqual(pages.slice(0, -1));
    });
  }
});

describe('paging while resources are written', () => {
  const id = (tag: string, n: number, suffix = '') => `live${tag}-${n}${suffix}`;
  /** Birth dates in the same order as the ids: patient n is born on day n after 1900-01-01. */
  const birthDate = (n: number) => new Date(Date.UTC(1900, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);

  async function put(tag: string, n: number, suffix = ''): Promise<void> {
    const res = await server.fhir(`Patient/${id(tag, n, suffix)}`, {
      method: 'PUT',
      body: { resourceType: 'Patient', id: id(tag, n, suffix), identifier: [{ system: `urn:live${tag}`, value: `${n}${suffix}` }], birthDate: birthDate(n) },
    });
    expect([200, 201]).toContain(res.status);
  }

  async function remove(tag: string, n: number): Promise<void> {
    expect((await server.fhir(`Patient/${id(tag, n)}`, { method: 'DELETE' })).status).toBe(200);
  }

  for (const sort of ['_id', 'birthdate']) {
    it(`sees every resource that existed throughout exactly once (_sort=${sort})`, async () => {
      const tag = sort === '_id' ? 'i' : 'b';
      for (let n = 100; n < 160; n += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => put(tag, n + k)));
      const deleted: string[] = [];
      const createdBefore: string[] = [];
      const createdAfter: string[] = [];
      const between = async (page: number) => {
        if (page === 1) {
          // the cursor is after live-109: 105a sorts before it, 150a after it
          await put(tag, 105, 'a');
          createdBefore.push(id(tag, 105, 'a'));
          await put(tag, 150, 'a');
          createdAfter.push(id(tag, 150, 'a'));
          for (const n of [130, 145]) {
            await remove(tag, n);
            deleted.push(id(tag, n));
          }
          // an update of a resource not seen yet keeps it in its place
          const updated = await server.fhir(`Patient/${id(tag, 140)}`, { method: 'PUT', body: { resourceType: 'Patient', id: id(tag, 140), identifier: [{ system: `urn:live${tag}`, value: '140' }], birthDate: birthDate(140), active: true } });
          expect(updated.status).toBe(200);
        }
        if (page === 3) {
          // the cursor is after live-129: 120b sorts before it, 159z after it
          await put(tag, 120, 'b');
          createdBefore.push(id(tag, 120, 'b'));
          await put(tag, 159, 'z');
          createdAfter.push(id(tag, 159, 'z'));
          await remove(tag, 155);
          deleted.push(id(tag, 155));
          // deleting one already seen changes nothing for the pages still to come
          await remove(tag, 101);
        }
      };
      const { pages } = await walk(q('Patient', ['identifier', `urn:live${tag}|`], ['_sort', sort], ['_count', '10']), between);
      const seen = pages.flat();
      expect(new Set(seen).size, 'no resource is seen twice').toBe(seen.length);
      const throughout = Array.from({ length: 60 }, (_, k) => id(tag, 100 + k)).filter((x) => !deleted.includes(x));
      for (const x of throughout) expect(seen, `${x} existed throughout`).toContain(x);
      for (const x of deleted) expect(seen, `${x} was deleted before its page`).not.toContain(x);
      for (const x of createdBefore) expect(seen, `${x} was created before the cursor`).not.toContain(x);
      // everything seen is accounted for, and the order is kept
      expect(seen.filter((x) => !throughout.includes(x) && !createdAfter.includes(x) && x !== id(tag, 101))).toEqual([]);
      expect(seen).toEqual(sorted(seen));
    });
  }
});

describe('tampered paging links', () => {
  let nextUrl: URL;
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      const res = await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', identifier: [{ system: 'urn:tamper', value: String(i) }], birthDate: `198${i}-01-01` } });
      expect(res.status).toBe(201);
    }
    const first = await get(q('Patient', ['identifier', 'urn:tamper|'], ['_sort', 'birthdate'], ['_count', '2']));
    nextUrl = new URL(link(first, 'next')!);
    expect(nextUrl.searchParams.get('_cursor')).toBeTruthy();
    // the untouched link works
    expect(matchIds(await get(relative(nextUrl.toString())))).toHaveLength(2);
  });

  async function expectRejected(cursor: string): Promise<void> {
    const url = new URL(nextUrl);
    url.searchParams.set('_cursor', cursor);
    const res = await server.fhir(relative(url.toString()));
    expect(res.status, `_cursor=${cursor}: ${JSON.stringify(res.body)}`).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].severity).toBe('error');
    expect(res.body.issue[0].details.coding[0].code).toBe('CB_ERR_INVALID_SEARCH');
  }

  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('answers a cursor that is not one at all with 400', async () => {
    await expectRejected('not-a-cursor');
    await expectRejected('!!!');
    await expectRejected(nextUrl.searchParams.get('_cursor')!.slice(0, -6));
    await expectRejected(`x${nextUrl.searchParams.get('_cursor')!}`);
  });

  it('answers a well-formed cursor with impossible content with 400', async () => {
    await expectRejected(b64({ direction: 'next' }));
    await expectRejected(b64(['n', [1980], 'some-id']));
    await expectRejected(b64(['q', [null], 'some-id']));
  });

  it('answers a cursor whose sort value is not of the sort parameter type with 400, not a server error', async () => {
    await expectRejected(b64(['n', ['not a date'], 'some-id']));
    await expectRejected(b64(['p', ['1980-99-99'], 'some-id']));
  });
});
