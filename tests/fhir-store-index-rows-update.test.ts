// An update replaces only the search index rows that changed (store/write-versions.ts): the rows
// its new version shares with the old one stay where they are (same heap tuple), the others are
// deleted and inserted — and what the tables hold afterwards is exactly the new version's rows,
// whichever way the batch is written (an update alone, updates beside creates, a delete).
import { describe, expect, it } from 'vitest';
import type { Observation, Resource } from '@medplum/fhirtypes';
import { withTransaction } from '../src/db/pool.ts';
import { PgFhirStore, storeInTransaction } from '../src/fhir/index.ts';
import { extractIndexRows, INDEX_TABLES } from '../src/fhir/search/index-rows.ts';
import { parseSearchQuery } from '../src/fhir/search/search-query.ts';
import { INDEX_COLUMNS } from '../src/fhir/store/write-versions.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

const observation = (id: string, over: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation',
  id,
  identifier: [{ system: 'urn:test:obs', value: id }],
  status: 'preliminary',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: 'Patient/ir-patient' },
  effectiveDateTime: '2026-11-20T08:00:00+08:00',
  valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  ...over,
});

/** The resource's rows in every search table, each with the heap tuple that holds it. */
async function indexRows(id: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const table of INDEX_TABLES) {
    const { rows } = await server.pool.query<Record<string, unknown>>(`SELECT ctid::text AS ctid, s.* FROM search_${table} s WHERE resource_type = 'Observation' AND resource_id = $1`, [id]);
    // Keyed "table code|values": the parameter first, so a test can name which rows moved.
    for (const { ctid, code, ...row } of rows) out.set(`${table} ${String(code)}|${JSON.stringify(Object.values(row))}`, ctid as string);
  }
  return out;
}

/** What the tables must hold for a current version: its extracted rows (as sets: compared with EXCEPT both ways). */
async function expectExactly(id: string): Promise<void> {
  const { content } = await new PgFhirStore(server.pool).read('Observation', id);
  const expected = extractIndexRows(JSON.parse(content!) as Resource);
  for (const table of INDEX_TABLES) {
    const cols = INDEX_COLUMNS[table];
    const want = `SELECT * FROM unnest(${cols.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})`;
    const have = `SELECT ${cols.map(([c]) => c).join(', ')} FROM search_${table} WHERE resource_type = 'Observation' AND resource_id = $${cols.length + 1}`;
    const values = [...cols.map((_, c) => expected[table].map((r) => r[c] ?? null)), id];
    const { rows: extra } = await server.pool.query(`${have} EXCEPT ${want}`, values);
    const { rows: missing } = await server.pool.query(`${want} EXCEPT ${have}`, values);
    expect({ table, extra, missing }).toEqual({ table, extra: [], missing: [] });
  }
}

const search = async (query: string) => {
  const result = await new PgFhirStore(server.pool).search(parseSearchQuery('Observation', new URLSearchParams(query)));
  return result.versions.map((v) => v.id).sort();
};

describe('an update replaces only the index rows that changed', () => {
  it('keeps the shared rows in place, replaces the changed ones, and searches see the new version', async () => {
    const store = new PgFhirStore(server.pool);
    await store.update(observation('ir-1'));
    await expectExactly('ir-1');
    const before = await indexRows('ir-1');

    await store.update(observation('ir-1', { status: 'final', valueQuantity: { value: 88, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } }));
    await expectExactly('ir-1');
    const after = await indexRows('ir-1');

    const param = (row: string) => row.slice(0, row.indexOf('|'));
    const kept = [...after].filter(([row, ctid]) => before.get(row) === ctid).map(([row]) => param(row));
    const replaced = [...after].filter(([row, ctid]) => before.get(row) !== ctid).map(([row]) => param(row));
    // Unchanged: code, category, identifier, subject, date. Changed: status, the value and the code-value pair.
    expect(kept.sort()).toEqual(['date date', 'reference subject', 'token category', 'token code', 'token identifier']);
    expect(replaced.sort()).toEqual(['composite code-value-quantity', 'quantity value-quantity', 'token status']);
    expect(after.size).toBe(before.size);

    expect(await search('status=final&_id=ir-1')).toEqual(['ir-1']);
    expect(await search('status=preliminary&_id=ir-1')).toEqual([]);
    expect(await search('value-quantity=88&_id=ir-1')).toEqual(['ir-1']);
    expect(await search('value-quantity=72&_id=ir-1')).toEqual([]);
    expect(await search('code=http://loinc.org|8867-4&_id=ir-1')).toEqual(['ir-1']);
  });

  it('writes updates beside creates, removes a dropped value, and a delete leaves no rows', async () => {
    const store = new PgFhirStore(server.pool);
    await store.update(observation('ir-2', { category: [{ coding: [{ code: 'a' }] }, { coding: [{ code: 'b' }] }] }));
    // One batch with an update and a create: the statement that replaces rows.
    await withTransaction(server.pool, (client) =>
      storeInTransaction(client).applyWrites([
        { kind: 'update', resource: observation('ir-2', { category: [{ coding: [{ code: 'b' }] }], effectiveDateTime: '2026-11-21T09:30:00+08:00' }) as Resource & { id: string }, label: 'update' },
        { kind: 'create', resource: observation('ir-3') as Resource & { id: string }, label: 'create' },
      ]),
    );
    await expectExactly('ir-2');
    await expectExactly('ir-3');
    expect(await search('category=a&_id=ir-2')).toEqual([]);
    expect(await search('category=b&_id=ir-2,ir-3')).toEqual(['ir-2']);
    expect(await search('date=2026-11-21&_id=ir-2')).toEqual(['ir-2']);
    expect(await search('date=2026-11-20&_id=ir-2')).toEqual([]);

    // A change no search parameter sees (a note): a new version, every index row left in place.
    const before = await indexRows('ir-3');
    await store.update(observation('ir-3', { note: [{ text: 'checked' }] }));
    expect(await indexRows('ir-3')).toEqual(before);

    await store.delete('Observation', 'ir-2');
    expect((await indexRows('ir-2')).size).toBe(0);
    // Recreated after the delete: every row inserted again.
    await store.update(observation('ir-2'));
    await expectExactly('ir-2');
  });
});
