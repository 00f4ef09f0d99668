// FhirStore.findByIdentifiers: the bulk identifier lookup behind conditional writes and the HL7
// mappers must find exactly what `identifier=system|value` searches find — current versions only,
// deleted resources excluded, several matches reported, one list per lookup in order.
import { describe, expect, it } from 'vitest';
import { PgFhirStore } from '../src/fhir/index.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

describe('findByIdentifiers', () => {
  it('agrees with identifier search for matches, misses, duplicates, updates and deletes', async () => {
    const store = new PgFhirStore(server.pool);
    const make = (value: string, extra: Record<string, unknown> = {}) => store.create({ resourceType: 'Patient', identifier: [{ system: 'urn:bulk', value }], ...extra } as never);
    const a = await make('A');
    await make('B');
    await make('B');
    const gone = await make('C');
    await store.delete('Patient', gone.version.id);
    const moved = await make('D');
    await store.update({ resourceType: 'Patient', id: moved.version.id, identifier: [{ system: 'urn:bulk', value: 'E' }] } as never);
    const lookups = ['A', 'B', 'C', 'D', 'E', 'Z'].map((value) => ({ resourceType: 'Patient', system: 'urn:bulk', value }));
    const found = await store.findByIdentifiers(lookups);
    const ids = found.map((list) => list.map((v) => v.id).sort());
    for (const [i, l] of lookups.entries()) {
      const search = await server.fhir(`Patient?identifier=urn:bulk|${l.value}`);
      expect(ids[i], l.value).toEqual((search.body.entry ?? []).map((e: any) => e.resource.id).sort());
    }
    expect(ids.map((x) => x.length)).toEqual([1, 2, 0, 0, 1, 0]);
    expect(found[0]![0]!.id).toBe(a.version.id);
    expect(found[4]![0]!.versionId).toBe(2);
  });
});
