// Messages stored but never applied (the process died between the commit that stored an
// enhanced-mode message — its CA already sent — and the one that applies it): the recovery worker
// applies them after a restart, and a sender re-sending such a message gets it applied and
// answered. Rows are put in that state directly, as a crash would leave them.
import { describe, expect, it } from 'vitest';
import { insertReceived } from '../src/hl7-adapters/message-log.ts';
import type { ReceivedMessage } from '../src/hl7-adapters/message-log.ts';
import { sendTo } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ HL7_RECOVERY_INTERVAL_MS: '200' });

const message = (controlId: string, mrn: string, mode = '') => `MSH|^~\\&|HISR|HR|CB|CB|20240315093000||ADT^A04^ADT_A01|${controlId}|P|2.5${mode}\rPID|1||${mrn}^^^HR^MR||褚十三||19700101|M\r`;

function stored(controlId: string, mrn: string, mode = ''): ReceivedMessage {
  return {
    senderApplication: 'HISR', senderFacility: 'HR', controlId, messageType: 'ADT', triggerEvent: 'A04', version: '2.5', charset: 'utf-8',
    raw: Buffer.from(message(controlId, mrn, mode), 'utf8'), connection: 'test', status: 'received', ack: null, error: null, patientKey: `${mrn}^HR`, patientIdentifiers: [mrn],
  };
}

async function statusOf(controlId: string): Promise<string> {
  return (await server.pool.query('SELECT status FROM hl7_message WHERE control_id = $1', [controlId])).rows[0]?.status;
}

describe('recovery of stored but unapplied messages', () => {
  it('the recovery worker applies them, oldest first per patient', async () => {
    await insertReceived(server.pool, stored('REC-1', 'MR-REC1', '|||AL|NE'));
    await insertReceived(server.pool, stored('REC-2', 'MR-REC1', '|||AL|NE'));
    const deadline = Date.now() + 10_000;
    while ((await statusOf('REC-2')) !== 'processed') {
      if (Date.now() > deadline) throw new Error('not recovered');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await statusOf('REC-1')).toBe('processed');
    const { rows } = await server.pool.query(`SELECT control_id, resources FROM hl7_message WHERE control_id IN ('REC-1', 'REC-2') ORDER BY id`);
    const versions = rows.map((r) => Number(r.resources.find((x: string) => x.startsWith('Patient/')).split('/')[3]));
    expect(versions[0]).toBe(1); // REC-1 created the Patient; REC-2 (same content) changed nothing
    const patients = (await server.fhir('Patient?identifier=MR-REC1')).body.entry;
    expect(patients).toHaveLength(1);
  });

  it('a re-sent duplicate of an unapplied original-mode message is applied, then answered AA', async () => {
    // Stored with the worker's grace period ahead of it: the re-send gets there first.
    await insertReceived(server.pool, stored('REC-3', 'MR-REC3'));
    const reply = await sendTo(server.mllpPort, message('REC-3', 'MR-REC3'));
    expect([reply.message.get('MSA-1'), reply.message.get('MSA-2')]).toEqual(['AA', 'REC-3']);
    expect(await statusOf('REC-3')).toBe('processed');
    const { rows } = await server.pool.query(`SELECT count(*)::int AS n FROM hl7_message WHERE control_id = 'REC-3'`);
    expect(rows[0].n).toBe(1);
    expect((await server.fhir('Patient?identifier=MR-REC3')).body.entry).toHaveLength(1);
  });

  it('a new original-mode message applies its patient\'s earlier unapplied message first, in the same commit', async () => {
    await insertReceived(server.pool, stored('REC-4', 'MR-REC4'));
    const changed = message('REC-5', 'MR-REC4').replace('||19700101|M', '||19700101|F');
    const reply = await sendTo(server.mllpPort, changed);
    expect([reply.message.get('MSA-1'), reply.message.get('MSA-2')]).toEqual(['AA', 'REC-5']);
    const { rows } = await server.pool.query(`SELECT control_id, status, resources FROM hl7_message WHERE control_id IN ('REC-4', 'REC-5') ORDER BY id`);
    expect(rows.map((r) => [r.control_id, r.status])).toEqual([['REC-4', 'processed'], ['REC-5', 'processed']]);
    // Arrival order: REC-4 created the Patient, REC-5 changed it.
    expect(rows.map((r) => r.resources.find((x: string) => x.startsWith('Patient/')).split('/')[3])).toEqual(['1', '2']);
    expect((await server.fhir('Patient?identifier=MR-REC4')).body.entry[0].resource.gender).toBe('female');
  });

  it('an earlier message that cannot be applied is recorded as failed and does not hold back the new one', async () => {
    // No PID-3: cannot be applied (AE 101) once it is reached.
    await insertReceived(server.pool, { ...stored('REC-6', 'MR-REC6'), raw: Buffer.from(message('REC-6', 'MR-REC6').replace('PID|1||MR-REC6^^^HR^MR|', 'PID|1|||'), 'utf8') });
    const reply = await sendTo(server.mllpPort, message('REC-7', 'MR-REC6'));
    expect(reply.message.get('MSA-1')).toBe('AA');
    const { rows } = await server.pool.query(`SELECT control_id, status, error, attempts FROM hl7_message WHERE control_id IN ('REC-6', 'REC-7') ORDER BY id`);
    expect(rows.map((r) => [r.control_id, r.status, r.attempts])).toEqual([['REC-6', 'failed', 1], ['REC-7', 'processed', 1]]);
    expect(rows[0].error).toMatch(/PID-3/);
    expect((await server.fhir('Patient?identifier=MR-REC6')).body.entry).toHaveLength(1);
  });
});
