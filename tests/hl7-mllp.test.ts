// HL7 v2 over MLLP, end to end over real sockets (MLLP Release 1 §2 block format; HL7 v2.5.1
// chapter 2 §2.9 acknowledgement rules, §2.15.8 MSA, §2.15.5 ERR, Table 0357): raw bytes and
// metadata committed to hl7_message before the ACK, duplicates answered with the stored ACK,
// framing edge cases, AR for garbage and unsupported types, enhanced mode CA.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMessage, setStatus } from '../src/hl7-adapters/message-log.ts';
import { ack, Client, fixture, frame, sendTo } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();
let db: pg.Client;

beforeAll(async () => {
  db = new pg.Client({ connectionString: server.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
});

const send = (payload: Buffer | string) => sendTo(server.mllpPort, payload);

async function rows(controlId: string) {
  const result = await db.query('SELECT * FROM hl7_message WHERE control_id = $1 ORDER BY id', [controlId]);
  return result.rows;
}

const simple = (controlId: string, type = 'ADT^A01^ADT_A01', extra = ''): string =>
  `MSH|^~\\&|LAB|HOSP|CB|CBF|20240315093000||${type}|${controlId}|P|2.5${extra}\rEVN|A01|20240315093000\rPID|1||123^^^HOSP^MR||DOE^JOHN\r`;

describe('MLLP listener', () => {
  it('answers a valid ADT^A01 (original mode) with AA and stores the raw bytes and metadata', async () => {
    const bytes = fixture('ms_ADT-A01-01.hl7');
    const { message } = await send(bytes);
    expect(message.get('MSA-1')).toBe('AA');
    expect(message.get('MSA-2')).toBe('MSG00001');
    expect(message.msh.field(9).raw).toBe('ACK^A01^ACK');
    expect(message.version).toBe('2.8');
    expect(message.get('MSH-5')).toBe('ADTApp');
    const [row, ...more] = await rows('MSG00001');
    expect(more).toHaveLength(0);
    expect(Buffer.compare(row.raw, bytes)).toBe(0);
    expect(row).toMatchObject({ sender_application: 'ADTApp', sender_facility: 'GHHSFacility', status: 'processed', message_type: 'ADT', trigger_event: 'A01', version: '2.8' });
    expect(row.connection).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(row.received_at).toBeTruthy();
  });

  it('answers the UTF-8 Chinese ADT^A01 (MSH-15 AL, enhanced mode) with CA, echoing MSH-10 and MSH-18', async () => {
    const bytes = fixture('syn_cn_ADT_A01_utf8.hl7');
    const { message, charset, bytes: ackBytes } = await send(bytes);
    expect(charset).toBe('utf-8');
    expect(message.get('MSA-1')).toBe('CA');
    expect(message.get('MSA-2')).toBe('HISA0120240315093000001');
    expect(message.characterSet).toBe('UNICODE UTF-8');
    expect(message.msh.field(6).raw).toBe('XYZRMYY^某市人民医院');
    const [row] = await rows('HISA0120240315093000001').then((r) => r.filter((x) => x.charset === 'utf-8'));
    expect(Buffer.compare(row.raw, bytes)).toBe(0);
    // Enhanced mode: the CA means "stored"; processing may still be running.
    expect(row).toMatchObject({ sender_application: 'HIS', sender_facility: 'XYZRMYY', status: expect.stringMatching(/^(received|processed)$/) });
    expect(Buffer.compare(row.ack, ackBytes)).toBe(0); // the ACK sent is the one committed with the message
  });

  it('answers the GB 18030 Chinese ADT^A01 in GB 18030 and stores its bytes unchanged', async () => {
    // Same sender and control id as the UTF-8 file: use another sending application so it is not a duplicate.
    const original = fixture('syn_cn_ADT_A01_gb18030.hl7');
    const bytes = Buffer.from(original.toString('latin1').replace('MSH|^~\\&|HIS|', 'MSH|^~\\&|HIS2|'), 'latin1');
    const { message, charset, bytes: ackBytes } = await send(bytes);
    expect(charset).toBe('gb18030');
    expect(message.characterSet).toBe('GB 18030-2000');
    expect(message.get('MSA-1')).toBe('CA');
    expect(message.get('MSA-2')).toBe('HISA0120240315093000001');
    expect(message.msh.field(6).raw).toBe('XYZRMYY^某市人民医院');
    expect(ackBytes.includes(Buffer.from('某市人民医院', 'utf8'))).toBe(false); // not UTF-8 on the wire
    const [row] = (await rows('HISA0120240315093000001')).filter((r) => r.sender_application === 'HIS2');
    expect(Buffer.compare(row.raw, bytes)).toBe(0);
    expect(row).toMatchObject({ charset: 'gb18030', message_type: 'ADT', trigger_event: 'A01', version: '2.5' });
  });

  it('answers a duplicate (same sender + MSH-10) with the identical stored ACK and keeps one row', async () => {
    const text = simple('DUP-1');
    const first = await send(text);
    const second = await send(text);
    expect(first.message.get('MSA-1')).toBe('AA');
    expect(Buffer.compare(second.bytes, first.bytes)).toBe(0);
    expect(await rows('DUP-1')).toHaveLength(1);
    // The same control id from another sender is not a duplicate.
    const other = await send(simple('DUP-1').replace('|LAB|', '|LAB2|'));
    expect(other.message.controlId).not.toBe(first.message.controlId);
    expect(await rows('DUP-1')).toHaveLength(2);
  });

  it('the same message sent at once on two connections is applied once and both get the same ACK', async () => {
    const text = simple('DUP-RACE').replace('123^^^HOSP^MR||DOE^JOHN', 'RACE-1^^^HOSP^MR||DOE^JANE');
    const [a, b] = await Promise.all([send(text), send(text)]);
    expect(a.message.get('MSA-1')).toBe('AA');
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    const [row, ...more] = await rows('DUP-RACE');
    expect(more).toHaveLength(0);
    expect(row).toMatchObject({ status: 'processed', attempts: 1 });
    const patients = (await server.fhir('Patient?identifier=RACE-1')).body.entry;
    expect(patients).toHaveLength(1);
    expect(patients[0].resource.meta.versionId).toBe('1');
  });

  it('one control id sent at once for two patients (a sender bug) is applied once; the other gets the stored ACK', async () => {
    const first = simple('DUP-RACE2').replace('123^^^HOSP^MR||DOE^JOHN', 'RACE-2A^^^HOSP^MR||DOE^ANN');
    const second = simple('DUP-RACE2').replace('123^^^HOSP^MR||DOE^JOHN', 'RACE-2B^^^HOSP^MR||DOE^BEN');
    const [a, b] = await Promise.all([send(first), send(second)]);
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    expect(await rows('DUP-RACE2')).toHaveLength(1);
    const written = await Promise.all(['RACE-2A', 'RACE-2B'].map(async (mrn) => (await server.fhir(`Patient?identifier=${mrn}`)).body.entry?.length ?? 0));
    expect(written.sort()).toEqual([0, 1]); // the one not stored changed nothing
  });

  it('after setStatus records a processed ACK, a duplicate gets that ACK (message-log.ts)', async () => {
    await send(simple('LOG-1'));
    const [row] = await rows('LOG-1');
    const processedAck = Buffer.from('MSH|^~\\&|CB|CBF|LAB|HOSP|20240315093001+0000||ACK^A01^ACK|CBX|P|2.5\rMSA|AA|LOG-1');
    await setStatus(server.pool, row.id, { status: 'processed', ack: processedAck });
    const stored = await getMessage(server.pool, row.id);
    expect(stored).toMatchObject({ status: 'processed', error: null, controlId: 'LOG-1', senderApplication: 'LAB' });
    expect((await db.query('SELECT processed_at FROM hl7_message WHERE id = $1', [row.id])).rows[0].processed_at).not.toBeNull();
    const again = await send(simple('LOG-1'));
    expect(Buffer.compare(again.bytes, processedAck)).toBe(0);
    await setStatus(server.pool, row.id, { status: 'failed', error: 'mapping failed' });
    expect(await getMessage(server.pool, row.id)).toMatchObject({ status: 'failed', error: 'mapping failed' });
    expect(Buffer.compare((await getMessage(server.pool, row.id))!.ack!, processedAck)).toBe(0);
  });

  it('acknowledges two messages in one TCP write, in order, and one message split over many writes', async () => {
    const client = await Client.connect(server.mllpPort);
    try {
      await client.write(Buffer.concat([Buffer.from('junk before the start byte\r\n'), frame(simple('TWO-1')), frame(simple('TWO-2'))]));
      const acks = (await client.waitFor(2)).map((b) => ack(b).message);
      expect(acks.map((m) => m.get('MSA-2'))).toEqual(['TWO-1', 'TWO-2']);
      expect(acks.map((m) => m.get('MSA-1'))).toEqual(['AA', 'AA']);

      const split = frame(simple('SPLIT-1'));
      for (let i = 0; i < split.length; i += 7) {
        await client.write(split.subarray(i, i + 7));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const [, , third] = await client.waitFor(3);
      expect(ack(third!).message.get('MSA-2')).toBe('SPLIT-1');
      expect(client.frames).toHaveLength(3);
      expect(await rows('SPLIT-1')).toHaveLength(1);
    } finally {
      client.close();
    }
  });

  it('rejects a malformed message with AR and an ERR segment, and keeps serving the connection', async () => {
    const client = await Client.connect(server.mllpPort);
    try {
      await client.write(frame('MSH|^~\\&|LAB|HOSP|CB|CBF|20240315||ADT^A01|BAD-1|P|2.5\rPID|1\r**garbage**\r'));
      const [bad] = await client.waitFor(1);
      const m = ack(bad!).message;
      expect(m.get('MSA-1')).toBe('AR');
      expect(m.get('MSA-2')).toBe('BAD-1');
      expect(m.get('ERR-3.1')).toBe('100');
      expect(m.get('ERR-3.3')).toBe('HL70357');
      expect(m.get('ERR-8')).toContain('segment');
      await client.write(frame(simple('AFTER-BAD')));
      const [, good] = await client.waitFor(2);
      expect(ack(good!).message.get('MSA-1')).toBe('AA');
      expect(ack(good!).message.get('MSA-2')).toBe('AFTER-BAD');
      const [row] = await rows('BAD-1');
      expect(row).toMatchObject({ status: 'rejected' });
      expect(row.error).toContain('segment');
    } finally {
      client.close();
    }
  });

  it('rejects a message without required MSH-10 with AR 101', async () => {
    const { message } = await send('MSH|^~\\&|LAB|HOSP|CB|CBF|20240315||ADT^A01||P|2.5\r');
    expect(message.get('MSA-1')).toBe('AR');
    expect(message.get('ERR-3.1')).toBe('101');
  });

  it('rejects unsupported message types with AR 200 (MDM^T02 fixture, synthetic SIU^S12) and versions with 203', async () => {
    const mdm = await send(fixture('ig_MDM_T02.hl7'));
    expect(mdm.message.get('MSA-1')).toBe('AR');
    expect(mdm.message.get('ERR-3.1')).toBe('200');
    const siu = await send(simple('SIU-1', 'SIU^S12^SIU_S12'));
    expect(siu.message.get('MSA-1')).toBe('AR');
    expect(siu.message.get('ERR-3.1')).toBe('200');
    expect(siu.message.get('ERR-8')).toBe('message type SIU^S12 is not supported');
    expect((await rows('SIU-1'))[0]).toMatchObject({ status: 'rejected', message_type: 'SIU' });
    const v3 = await send(simple('V3-1').replace('|P|2.5', '|P|3.0'));
    expect(v3.message.get('ERR-3.1')).toBe('203');
  });

  it('enhanced mode: MSH-15 AL gets CA, ER gets CR on error and nothing on success; MSH-16 AL gets the application ACK after processing', async () => {
    const al = await send(simple('ENH-AL', 'ADT^A01^ADT_A01', '|||AL|NE'));
    expect(al.message.get('MSA-1')).toBe('CA');
    expect(al.message.get('MSA-2')).toBe('ENH-AL');
    const erBad = await send(simple('ENH-ER-BAD', 'SIU^S12^SIU_S12', '|||ER|AL'));
    expect(erBad.message.get('MSA-1')).toBe('CR');
    expect(erBad.message.get('ERR-3.1')).toBe('200');

    const client = await Client.connect(server.mllpPort);
    try {
      await client.write(Buffer.concat([frame(simple('ENH-ER-OK', 'ADT^A01^ADT_A01', '|||ER|AL')), frame(simple('ENH-AFTER'))]));
      const [first, second] = await client.waitFor(2);
      // No accept ACK for ENH-ER-OK (MSH-15 ER, no error); its application ACK (MSH-16 AL) after processing.
      expect([ack(first!).message.get('MSA-1'), ack(first!).message.get('MSA-2')]).toEqual(['AA', 'ENH-ER-OK']);
      expect([ack(second!).message.get('MSA-1'), ack(second!).message.get('MSA-2')]).toEqual(['AA', 'ENH-AFTER']);
      const [row] = await rows('ENH-ER-OK');
      expect(row.status).toBe('processed');
      expect(row.ack).toBeNull();
      expect(Buffer.compare(row.app_ack, first!)).toBe(0);
    } finally {
      client.close();
    }
  });

  it('acknowledges each message of a batch in order, applying them; an unreadable part is logged and skipped', async () => {
    const client = await Client.connect(server.mllpPort);
    try {
      const batch = ['FHS|^~\\&|LAB|HOSP', 'BHS|^~\\&|LAB|HOSP', 'this line is not HL7', simple('BATCH-A').trimEnd(), simple('BATCH-B').trimEnd(), 'BTS|3', 'FTS|1'].join('\r');
      await client.write(frame(batch));
      const acks = (await client.waitFor(2)).map((f) => ack(f).message);
      expect(acks.map((m) => [m.get('MSA-1'), m.get('MSA-2')])).toEqual([['AA', 'BATCH-A'], ['AA', 'BATCH-B']]);
      expect(client.closed).toBe(false);
      expect((await rows('BATCH-B'))[0].status).toBe('processed');
      const unreadable = await db.query(`SELECT status FROM hl7_message WHERE control_id IS NULL AND convert_from(raw, 'UTF8') LIKE 'this line is not HL7%'`);
      expect(unreadable.rows).toEqual([{ status: 'rejected' }]);
    } finally {
      client.close();
    }
  });

  it('logs a frame without a readable MSH and closes the connection', async () => {
    const client = await Client.connect(server.mllpPort);
    await client.write(frame('hello, this is not HL7'));
    await client.waitFor(1);
    expect(client.closed).toBe(true);
    expect(client.frames).toHaveLength(0);
    const result = await db.query(`SELECT status, error FROM hl7_message WHERE control_id IS NULL AND raw = $1`, [Buffer.from('hello, this is not HL7')]);
    expect(result.rows).toEqual([{ status: 'rejected', error: expect.any(String) }]);
  });
});

describe('MLLP listener limits', () => {
  const limited = useTestServer({ MLLP_MAX_MESSAGE_BYTES: '1024', MLLP_IDLE_TIMEOUT_MS: '300' });

  it('closes the connection on an oversize frame', async () => {
    const client = await Client.connect(limited.mllpPort);
    await client.write(frame(simple('BIG-1') + `NTE|1||${'x'.repeat(2000)}\r`));
    await client.waitFor(1);
    expect(client.closed).toBe(true);
    expect(client.frames).toHaveLength(0);
  });

  it('closes an idle connection', async () => {
    const client = await Client.connect(limited.mllpPort);
    const started = Date.now();
    await client.waitFor(1, 5_000);
    expect(client.closed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
