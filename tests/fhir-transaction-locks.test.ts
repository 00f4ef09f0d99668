// A transaction Bundle locks every row it will write in the round trip that resolves its
// conditions (PgFhirStore.lockConditions, migration 0019): the matches of conditional updates and
// the resources it updates by id. The write then follows at once — no separate lock of the rows
// — and a conditional update that matched nothing creates under a new id, with nothing to lock.
import { describe, expect, it } from 'vitest';
import { watchQueries } from './helpers/round-trips.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

const patient = (extra: Record<string, unknown>) => ({ resourceType: 'Patient', ...extra });

describe('transaction Bundle locks', () => {
  it('updates by id, by condition, and creates by condition with two statements: resolve and lock, then write', async () => {
    expect((await server.fhir('/Patient/txl-a', { method: 'PUT', body: patient({ id: 'txl-a', name: [{ family: 'A' }] }) })).status).toBe(201);
    expect((await server.fhir('/Patient', { method: 'POST', body: patient({ identifier: [{ system: 'urn:txl', value: 'b' }], name: [{ family: 'B' }] }) })).status).toBe(201);
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient({ id: 'txl-a', name: [{ family: 'A2' }] }), request: { method: 'PUT', url: 'Patient/txl-a' } },
        { resource: patient({ identifier: [{ system: 'urn:txl', value: 'b' }], name: [{ family: 'B2' }] }), request: { method: 'PUT', url: 'Patient?identifier=urn:txl|b' } },
        { resource: patient({ identifier: [{ system: 'urn:txl', value: 'c' }], name: [{ family: 'C' }] }), request: { method: 'PUT', url: 'Patient?identifier=urn:txl|c' } },
        { resource: patient({ id: 'txl-d', name: [{ family: 'D' }] }), request: { method: 'PUT', url: 'Patient/txl-d' } },
      ],
    };
    let reply: Awaited<ReturnType<typeof server.fhir>> | undefined;
    const { statements } = await watchQueries(server.pool, async () => {
      reply = await server.fhir('', { method: 'POST', body: bundle });
    });
    expect(reply!.status).toBe(200);
    const entries = reply!.body.entry as Array<{ response: { status: string; etag: string } }>;
    expect(entries.map((e) => [e.response.status.slice(0, 3), e.response.etag])).toEqual([
      ['200', 'W/"2"'],
      ['200', 'W/"2"'],
      ['201', 'W/"1"'],
      ['201', 'W/"1"'],
    ]);
    // BEGIN and COMMIT aside (they travel with the statements once a connection has prepared them).
    expect(statements.filter((s) => s !== 'BEGIN' && s !== 'COMMIT')).toEqual(['cb_resolve_conditions', 'cb_write_versions']);
    const b = await server.fhir('/Patient?identifier=urn:txl|b');
    expect(b.body.entry.map((e: { resource: { name: Array<{ family: string }> } }) => e.resource.name[0]!.family)).toEqual(['B2']);
  });

  it('a conditional update that matched nothing with If-Match still fails as a version conflict', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: patient({ identifier: [{ system: 'urn:txl', value: 'none' }] }), request: { method: 'PUT', url: 'Patient?identifier=urn:txl|none', ifMatch: 'W/"1"' } }],
    };
    const reply = await server.fhir('', { method: 'POST', body: bundle });
    expect([409, 412]).toContain(reply.status);
    expect((await server.fhir('/Patient?identifier=urn:txl|none')).body.total ?? (await server.fhir('/Patient?identifier=urn:txl|none')).body.entry?.length ?? 0).toBe(0);
  });
});
