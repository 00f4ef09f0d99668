// An original-mode HL7 message waits for PostgreSQL twice once the connection has its statements
// prepared: for the log's start (cb_hl7_begin), sent with BEGIN and every store lookup of the
// mapping — what the mappers read (the Patient, the Encounter) and the conditions of all the
// message's conditional writes, resolved and locked for the write (cb_resolve_conditions); and
// for the write, with the log row and COMMIT sent behind it as soon as the resources are
// validated, before the write's answer has come (db/pool.ts: answersCheckedAtCommit). Its
// Provenance, named after the log id just handed out, is written without a lock first
// (FhirStore.expectAbsent). Watched on the wire: the statements bound before each ReadyForQuery
// the client reads.
import { describe, expect, it } from 'vitest';
import { fixture, sendTo } from './helpers/mllp.ts';
import { watchQueries } from './helpers/round-trips.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

/** The public ADT^A03 sample under a new control id (MSH-10). */
const a03 = (controlId: string) => fixture('ms_ADT-A03-01.hl7').toString('latin1').replace(/^(MSH(?:\|[^|\r]*){8})\|[^|\r]*/, `$1|${controlId}`);
const BEGIN_LOG = 'SELECT new_id::text, duplicate_id::text,';

describe('round trips of an HL7 message', () => {
  it('an ADT^A03 for a known patient and stay: the log start travels with all the lookups and conditions; the log row and COMMIT follow the write without waiting for it', async () => {
    // Known patient and stay; the connection's named statements prepared (the pool hands back the
    // client it took last).
    for (let i = 1; i <= 3; i++) expect((await sendTo(server.mllpPort, a03(`RT-WARM-${i}`))).message.get('MSA-1')).toBe('AA');
    const watched = await watchQueries(server.pool, async () => {
      expect((await sendTo(server.mllpPort, a03('RT-1'))).message.get('MSA-1')).toBe('AA');
    });
    const trips = watched.clients.find((c) => c.some((trip) => trip.includes(BEGIN_LOG)));
    expect(trips).toEqual([
      ['BEGIN', BEGIN_LOG, 'cb_resolve_conditions'],
      // Only inserts when nothing it replaces changed; the log row and COMMIT go behind it.
      [expect.stringMatching(/^cb_(insert|write)_versions$/), 'cb_hl7_insert_with_outcome', 'COMMIT'],
    ]);
  });

  it('a Provenance already under the next log id (a client may PUT any id): the message is applied on a retry, under another id, and the resource is left alone', async () => {
    const sequence = (await server.pool.query<{ next: string }>(`SELECT (last_value + CASE WHEN is_called THEN 1 ELSE 0 END)::text AS next FROM hl7_message_id_seq`)).rows[0]!.next;
    const squatter = await server.fhir(`/Provenance/hl7-message-${sequence}`, {
      method: 'PUT',
      body: { resourceType: 'Provenance', id: `hl7-message-${sequence}`, target: [{ reference: 'Patient/someone-else' }], recorded: '2026-01-01T00:00:00Z', agent: [{ who: { display: 'a client' } }] },
    });
    expect(squatter.status).toBe(201);
    expect((await sendTo(server.mllpPort, a03('RT-SQUAT'))).message.get('MSA-1')).toBe('AA');
    const logged = (await server.pool.query<{ id: string; status: string; resources: string[] }>(`SELECT id::text, status, resources FROM hl7_message WHERE control_id = 'RT-SQUAT'`)).rows;
    expect(logged).toHaveLength(1);
    expect(logged[0]!.status).toBe('processed');
    expect(logged[0]!.id).not.toBe(sequence);
    expect(logged[0]!.resources).toContain(`Provenance/hl7-message-${logged[0]!.id}/_history/1`);
    const untouched = await server.fhir(`/Provenance/hl7-message-${sequence}`);
    expect(untouched.body.meta.versionId).toBe('1');
    expect(untouched.body.target).toEqual([{ reference: 'Patient/someone-else' }]);
  });

  it('a duplicate still gets its stored ACK, whatever the early lookups found', async () => {
    const first = await sendTo(server.mllpPort, a03('RT-DUP'));
    const again = await sendTo(server.mllpPort, a03('RT-DUP'));
    expect(again.bytes.equals(first.bytes)).toBe(true);
  });
});
