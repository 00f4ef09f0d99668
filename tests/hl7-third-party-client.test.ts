// HL7 v2 over MLLP from a client we did not write (issue 3: "samples sent through a real MLLP
// client that we did not write"): node-hl7-client (npm, MIT, pure JS, no dependencies) sends the
// fixture messages and back-to-back messages on one connection to a real server; the ACKs it
// parses are checked (HL7 v2.5.1 §2.9.2 original mode AA, §2.9.3 enhanced mode CA + application
// ACK per MSH-15/MSH-16 and Table 0155, §2.15.8 MSA-2 = the sent MSH-10) and the FHIR resources
// read back over REST. MLLP Release 1 §2 block format on both sides.
//
// How node-hl7-client 4.0.0 is used, and why (its problems, read in lib/types/index.mjs.map,
// src/client/connection.ts and src/modules/codec.ts):
// - It sends strings only, encoded with a Node BufferEncoding (utf8, latin1, …), so only the
//   UTF-8 fixtures are sent; GBK / GB 18030 messages cannot go through it.
// - Each Client is pinned to one HL7 version and refuses messages whose MSH-12 differs, so there
//   is one Client per version (2.5, 2.5.1, 2.8).
// - With its default `waitAck: true`, sending a second message before the first ACK (or two
//   messages before the socket is connected, as its README's createConnection + sendMessage
//   does) queues it; the queue is flushed only on a 'connect' event, and the flush loop calls
//   sendMessage, which puts the message straight back into the queue while an ACK is awaited —
//   an endless microtask loop that starves the event loop (the process hangs at 100% CPU, no
//   timer ever fires). Also, sendMessage before 'connect' opens a second TCP connection. So we
//   wait for 'connect' and use `waitAck: false`: every sendMessage writes one frame at once.
// - Its receive codec (MLLPCodec.receiveData) handles a read as soon as the buffered bytes
//   contain any 0x1C and any 0x0D, then clears its buffer: when a TCP read ends inside the next
//   ACK frame, that ACK is cut into two broken messages. Reproduction:
//     const c = new MLLPCodec(); const both = Buffer.concat([frameA, frameB]);
//     c.receiveData(both.subarray(0, frameA.length + 20)); // → A + the first 20 bytes of B
//     c.receiveData(both.subarray(frameA.length + 20));    // → the rest of B, no MSH
//   It does not bite here: the server writes each ACK frame (< 1 KiB) with one write on
//   loopback, and Node reads up to 64 KiB at once, so a read never ends inside a frame; several
//   whole frames in one read are handled (they are split on 0x1C 0x0D). Our own sockets-level
//   tests (hl7-mllp.test.ts) cover split and coalesced frames in the other direction.
// Its send side frames correctly (0x0B, message, 0x1C 0x0D per message).
import Client, { Message } from 'node-hl7-client';
import type { Connection } from 'node-hl7-client';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

const INPATIENT_NO = 'urn:oid:2.16.156.10011.1.12';

interface Ack {
  code: string;
  controlId: string;
  text: string;
}

/** One node-hl7-client connection: every ACK it parses is collected in arrival order. */
interface Link {
  connection: Connection;
  acks: Ack[];
  /** Waits until `count` ACKs have arrived in total. */
  waitFor(count: number, timeoutMs?: number): Promise<Ack[]>;
}

const clients: Client[] = [];

afterAll(() => {
  for (const client of clients) client.closeAll();
});

async function open(version: '2.5' | '2.5.1' | '2.8'): Promise<Link> {
  const client = new Client({ host: '127.0.0.1', version });
  clients.push(client);
  const acks: Ack[] = [];
  const errors: unknown[] = [];
  const connection = client.createConnection({ port: server.mllpPort, version, waitAck: false }, async (response) => {
    const ack = response.getMessage();
    acks.push({ code: ack.get('MSA.1').toString(), controlId: ack.get('MSA.2').toString(), text: ack.toString() });
  });
  connection.on('data.error', (err: unknown) => errors.push(err));
  await new Promise<void>((resolve) => connection.once('connect', () => resolve()));
  const waitFor = async (count: number, timeoutMs = 10_000): Promise<Ack[]> => {
    const deadline = Date.now() + timeoutMs;
    while (acks.length < count) {
      if (errors.length) throw new Error(`node-hl7-client could not read an ACK: ${String(errors[0])}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} ACKs, got ${acks.length}: ${JSON.stringify(acks)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return acks.slice(0, count);
  };
  return { connection, acks, waitFor };
}

/** The library takes text only: decodes a UTF-8 fixture (the only kind it can send) into its Message. */
function utf8Fixture(name: string): { message: Message; text: string } {
  const text = fixture(name).toString('utf8');
  return { message: new Message({ text }), text };
}

async function search(path: string): Promise<any[]> {
  const reply = await server.fhir(path);
  expect(reply.status, path).toBe(200);
  return (reply.body.entry ?? []).filter((e: any) => e.search?.mode !== 'outcome').map((e: any) => e.resource);
}

async function one(path: string): Promise<any> {
  const found = await search(path);
  expect(found, path).toHaveLength(1);
  return found[0];
}

/** The log row of a message once it has been applied (enhanced mode answers CA before applying). */
async function applied(controlId: string): Promise<{ status: string; raw: Buffer; error: string | null }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await server.pool.query('SELECT status, raw, error FROM hl7_message WHERE control_id = $1', [controlId]);
    const row = result.rows[0];
    if (row && row.status !== 'received') return row;
    if (Date.now() > deadline) throw new Error(`message ${controlId} was not applied in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fixtures sent with node-hl7-client', () => {
  it('Chinese ADT^A01 in UTF-8 (MSH-15 AL, MSH-16 NE): one CA, then Patient and Encounter exist', async () => {
    const link = await open('2.5');
    const { message, text } = utf8Fixture('syn_cn_ADT_A01_utf8.hl7');
    await link.connection.sendMessage(message);
    const [ack] = await link.waitFor(1);
    expect(ack).toMatchObject({ code: 'CA', controlId: 'HISA0120240315093000001' });
    const row = await applied('HISA0120240315093000001');
    expect(row).toMatchObject({ status: 'processed', error: null });
    expect(row.raw.toString('utf8')).toBe(text.trim()); // the client sent the text unchanged (minus the final CR)
    await new Promise((r) => setTimeout(r, 200));
    expect(link.acks).toHaveLength(1); // MSH-16 NE: no application ACK follows
    const patient = await one(`Patient?identifier=${INPATIENT_NO}|ZY2024001234`);
    expect(patient.name[0]).toMatchObject({ family: '张三' });
    expect(await search(`Encounter?subject=Patient/${patient.id}`)).toHaveLength(1);
  });

  it('v2.8 ADT^A01 (original mode): AA echoing MSH-10, Patient by PID-3', async () => {
    const link = await open('2.8');
    await link.connection.sendMessage(utf8Fixture('ms_ADT-A01-01.hl7').message);
    const [ack] = await link.waitFor(1);
    expect(ack).toMatchObject({ code: 'AA', controlId: 'MSG00001' });
    expect((await applied('MSG00001')).status).toBe('processed');
    const patient = await one('Patient?identifier=PATID1234');
    expect(patient.name[0].family).toBe('EVERYMAN');
  });

  it('v2.5.1 ORU^R01 with a 5-character MSH-2 (MSH-15/16 AL): CA, then the application ACK AA; DiagnosticReport and Observations exist', async () => {
    const link = await open('2.5.1');
    await link.connection.sendMessage(utf8Fixture('ig_test_ORU_R01.hl7').message);
    const acks = await link.waitFor(2);
    expect(acks.map((a) => [a.code, a.controlId])).toEqual([
      ['CA', '20251014154001-425'],
      ['AA', '20251014154001-425'],
    ]);
    expect((await applied('20251014154001-425')).status).toBe('processed');
    const report = await one('DiagnosticReport?identifier=LAB4432');
    expect(report.result.length).toBeGreaterThan(0);
    const ids = report.result.map((r: any) => r.reference.split('/')[1]).join(',');
    expect(await search(`Observation?_id=${ids}`)).toHaveLength(report.result.length);
  });

  it('RDE^O11 in UTF-8 (MSH-15 AL, MSH-16 NE): CA, then the MedicationRequest exists for the admitted patient', async () => {
    const link = await open('2.5');
    await link.connection.sendMessage(utf8Fixture('syn_cn_RDE_O11_utf8.hl7').message);
    const [ack] = await link.waitFor(1);
    expect(ack).toMatchObject({ code: 'CA', controlId: 'HIS20240316100000042' });
    expect((await applied('HIS20240316100000042')).status).toBe('processed');
    const request = await one('MedicationRequest?identifier=YZ20240316001');
    const patient = await one(`Patient?identifier=${INPATIENT_NO}|ZY2024001234`);
    expect(request.subject.reference).toBe(`Patient/${patient.id}`);
  });
});

describe('back-to-back messages on one node-hl7-client connection', () => {
  it('eight ADT messages written without waiting: eight AAs in order, each for its MSH-10, every Patient and Encounter written', async () => {
    const link = await open('2.5');
    const ids = Array.from({ length: 8 }, (_, i) => `B2B-${i + 1}`);
    const messages = ids.map((id, i) => {
      const trigger = i % 2 ? 'A08' : 'A01';
      return new Message({
        text: [
          `MSH|^~\\&|HIS|B2B|CB|CB|20240601100000||ADT^${trigger}^ADT_A01|${id}|P|2.5`,
          `EVN|${trigger}|20240601100000`,
          `PID|1||MR-${id}^^^B2B^MR||测试^${i + 1}||19800101|F`,
          `PV1|1|I|W1^${i + 1}^1||||||||||||||||V-${id}^^^B2B^VN|||||||||||||||||||||||||20240601090000`,
        ].join('\r'),
      });
    });
    // sendMessage writes at once (waitAck: false), so the frames leave back to back and reach
    // the server in as few TCP segments as the kernel likes.
    for (const m of messages) await link.connection.sendMessage(m);
    const acks = await link.waitFor(ids.length);
    // MLLP is one ACK per message, in order, on the same connection.
    expect(acks.map((a) => [a.code, a.controlId])).toEqual(ids.map((id) => ['AA', id]));
    for (const a of acks) expect(a.text).toMatch(/^MSH\|\^~\\&\|CB\|CB\|HIS\|B2B\|/); // MSH-3/4 and MSH-5/6 swapped
    const rows = await server.pool.query<{ control_id: string; status: string; connection: string }>(
      `SELECT control_id, status, connection FROM hl7_message WHERE sender_facility = 'B2B' ORDER BY id`,
    );
    expect(rows.rows.map((r) => [r.control_id, r.status])).toEqual(ids.map((id) => [id, 'processed']));
    expect(new Set(rows.rows.map((r) => r.connection)).size).toBe(1); // all on the one connection
    for (const [i, id] of ids.entries()) {
      const patient = await one(`Patient?identifier=MR-${id}`);
      expect(patient.name[0]).toMatchObject({ family: '测试', given: [String(i + 1)] });
      expect((await one(`Encounter?identifier=V-${id}`)).subject.reference).toBe(`Patient/${patient.id}`);
    }
  });
});
