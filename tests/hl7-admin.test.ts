// HL7 operations: per-sender configuration stored as data (charset, time zone, identifier
// systems) taking effect without a restart, ConceptMap translation of local codes, the message
// log API, reprocessing (one message, all failed of a sender), and per-patient arrival order
// with messages arriving on several connections at once.
import { spawn } from 'node:child_process';
import net from 'node:net';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { Client, fixture, frame, sendTo } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();
const send = (payload: Buffer | string) => sendTo(server.mllpPort, payload);

async function admin(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/admin/hl7${path}`, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function search(path: string): Promise<any[]> {
  const reply = await server.fhir(path);
  expect(reply.status).toBe(200);
  return (reply.body.entry ?? []).filter((e: any) => e.search?.mode !== 'outcome').map((e: any) => e.resource);
}

async function applied(controlId: string): Promise<any> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { body } = await admin(`/messages?control-id=${encodeURIComponent(controlId)}`);
    const row = body.messages[0];
    if (row && row.status !== 'received') return row;
    if (Date.now() > deadline) throw new Error(`message ${controlId} was not applied in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('per-sender configuration', () => {
  it('is validated when saved: unknown settings, charsets, time zones and non-URI systems are refused', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ colour: 'red' }, /unknown setting\(s\): colour/],
      [{ defaultCharset: 'KLINGON' }, /defaultCharset "KLINGON" is not a known character set/],
      [{ timeZone: 'Mars/Olympus' }, /timeZone "Mars\/Olympus" is not an IANA time zone/],
      [{ identifierSystems: { YB: 'not a uri' } }, /identifierSystems.YB: "not a uri" is not an absolute URI/],
      [[1, 2], /must be a JSON object/],
    ];
    for (const [body, reason] of cases) {
      const reply = await admin('/senders/HIS2/H2', { method: 'PUT', body });
      expect(reply.status).toBe(400);
      expect(reply.body.issue[0].details).toMatchObject({ coding: [{ code: 'CB_ERR_HL7_INVALID_REQUEST' }], text: expect.stringMatching(reason) });
    }
    expect((await admin('/senders/HIS2/H2')).body).toMatchObject({ application: 'HIS2', facility: 'H2', timeZone: 'Asia/Shanghai' });
  });

  it('applies to the next message without a restart: default charset, time zone, identifier systems', async () => {
    const message = (id: string) =>
      iconv.encode(
        [`MSH|^~\\&|HIS2|H2|CB|CB|20240315093000||ADT^A04^ADT_A01|${id}|P|2.5`, `PID|1||CFG-1^^^H2^MR~0012345678^^^YB^HC||欧阳娜娜||19900101|F`, `PV1|1|O|||||||||||||||||CFG-V1^^^H2^VN|||||||||||||||||||||||||20240315090000`].join('\r'),
        'gbk',
      );
    // Without configuration GBK bytes with an empty MSH-18 are read as UTF-8 (the server default): garbled.
    await send(message('CFG-A'));
    expect((await applied('CFG-A')).status).toBe('processed');
    expect((await search('Patient?identifier=CFG-1'))[0].name[0].family).not.toBe('欧阳娜娜');

    const saved = await admin('/senders/HIS2/H2', { method: 'PUT', body: { defaultCharset: 'GBK', timeZone: 'Europe/Berlin', identifierSystems: { YB: 'urn:oid:2.16.156.10011.1.19' } } });
    expect(saved.status).toBe(200);
    const listed = await admin('/senders');
    expect(listed.body.senders, JSON.stringify(listed.body)).toEqual([expect.objectContaining({ application: 'HIS2', facility: 'H2', defaultCharset: 'GBK' })]);
    await send(message('CFG-B'));
    expect((await applied('CFG-B')).status).toBe('processed');
    const [patient] = await search('Patient?identifier=CFG-1');
    expect(patient.name[0].family).toBe('欧阳娜娜');
    expect(patient.identifier).toContainEqual(expect.objectContaining({ system: 'urn:oid:2.16.156.10011.1.19', value: '0012345678' }));
    const [encounter] = await search(`Encounter?subject=Patient/${patient.id}`);
    expect(encounter.period.start).toBe('2024-03-15T09:00:00+01:00');

    expect((await admin('/senders/HIS2/H2', { method: 'DELETE' })).status).toBe(200);
    expect((await admin('/senders/HIS2/H2', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('local codes and ConceptMaps', () => {
  it('translates a local drug code with a stored ConceptMap; untranslated codes are counted', async () => {
    const localDrugs = 'https://fhir.carebridge.cn/CodeSystem/local/XYZRMYY/CN_YPBM';
    const map = {
      resourceType: 'ConceptMap',
      url: 'https://example.org/ConceptMap/xyzrmyy-drugs',
      status: 'active',
      group: [{ source: localDrugs, target: 'http://www.whocc.no/atc', element: [{ code: '86900234000012', target: [{ code: 'J01CA04', display: 'amoxicillin', equivalence: 'equivalent' }] }] }],
    };
    expect((await server.fhir('ConceptMap', { method: 'POST', body: map })).status).toBe(201);
    await send(fixture('syn_cn_RDE_O11_utf8.hl7'));
    const row = await applied('HIS20240316100000042');
    expect(row.status).toBe('processed');
    const [request] = await search('MedicationRequest?identifier=YZ20240316001');
    expect(request.medicationCodeableConcept.coding).toEqual([
      { system: localDrugs, code: '86900234000012', display: '阿莫西林胶囊' },
      { system: 'http://www.whocc.no/atc', code: 'J01CA04', display: 'amoxicillin' },
    ]);
    // The translated standard code is searchable.
    expect((await search('MedicationRequest?code=http://www.whocc.no/atc|J01CA04')).map((r) => r.id)).toEqual([request.id]);
    const detail = (await admin(`/messages/${row.id}`)).body;
    expect(detail.unmappedCodes).not.toContainEqual(expect.objectContaining({ code: '86900234000012' }));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/carebridge_hl7_messages_total\{message_type="RDE\^O11",status="processed"\} 1/);
  });
});

describe('message log API', () => {
  it('finds messages by control id, patient identifier, type, status and time, and shows what each produced', async () => {
    await send(fixture('syn_cn_ADT_A01_utf8.hl7'));
    const row = await applied('HISA0120240315093000001');
    const byPatient = (await admin('/messages?patient-identifier=11010519491231002X&type=ADT^A01')).body.messages;
    expect(byPatient.map((m: any) => m.id)).toEqual([row.id]);
    expect((await admin('/messages?patient-identifier=urn:oid:2.16.156.10011.1.12|ZY2024001234')).body.messages.map((m: any) => m.controlId)).toContain('HISA0120240315093000001');
    expect((await admin('/messages?status=failed')).body.messages.every((m: any) => m.status === 'failed')).toBe(true);
    expect((await admin(`/messages?since=${new Date(Date.now() + 60_000).toISOString()}`)).body.messages).toEqual([]);
    expect((await admin('/messages?until=2000-01-01')).body.messages).toEqual([]);

    const detail = (await admin(`/messages/${row.id}`)).body;
    expect(detail).toMatchObject({ senderApplication: 'HIS', senderFacility: 'XYZRMYY', messageType: 'ADT', triggerEvent: 'A01', status: 'processed', charset: 'utf-8' });
    expect(detail.receivedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/);
    expect(detail.text).toContain('PID|1||ZY2024001234');
    expect(detail.text).toContain('张三');
    expect(detail.ack).toMatch(/^MSH\|.*\rMSA\|CA\|HISA0120240315093000001/);
    expect(detail.resources).toEqual(expect.arrayContaining([expect.stringMatching(/^Patient\/[^/]+\/_history\/\d+$/), expect.stringMatching(/^Provenance\/hl7-message-\d+\/_history\/\d+$/)]));

    const page = (await admin('/messages?_count=1')).body;
    expect(page.messages).toHaveLength(1);
    expect(page.next).toMatch(/before=\d+/);
    const older = (await admin(page.next.replace('/admin/hl7', ''))).body.messages;
    expect(Number(older[0].id)).toBeLessThan(Number(page.messages[0].id));
    // Newest first by number, also across a digit boundary (9 before 10 would be text order).
    for (let i = 0; i < 8; i++) {
      await send(`MSH|^~\\&|HISORDER|ORDERH|CB|CB|20240315093000||ADT^A08^ADT_A01|ORDER-${i}|P|2.5\rPID|1||ORDER${i}^^^&2.16.156.10011.1.12&ISO^MR||测试${i}`);
    }
    const ids = (await admin('/messages?_count=100')).body.messages.map((m: any) => Number(m.id));
    expect(Math.max(...ids)).toBeGreaterThanOrEqual(10);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });

  it('refuses bad queries with a specific OperationOutcome and unknown ids with 404', async () => {
    for (const [query, expression] of [['status=lost', 'status'], ['since=yesterday', 'since'], ['_count=0', '_count'], ['colour=red', 'colour'], ['type=adt', 'type']] as const) {
      const reply = await admin(`/messages?${query}`);
      expect(reply.status).toBe(400);
      expect(reply.body.issue[0]).toMatchObject({ expression: [expression], details: { coding: [{ code: 'CB_ERR_HL7_INVALID_REQUEST' }] } });
    }
    expect((await admin('/messages/999999')).status).toBe(404);
    expect((await admin('/messages/abc')).body.issue[0].details.coding[0].code).toBe('CB_ERR_HL7_MESSAGE_NOT_FOUND');
  });
});

describe('reprocessing', () => {
  it('a message that failed because of the data applies after the data is fixed', async () => {
    // Two Patients with the same MRN (entered by hand through REST): the conditional update fails.
    const twin = { resourceType: 'Patient', identifier: [{ system: 'https://fhir.carebridge.cn/NamingSystem/local/H3/MR', value: 'TWIN-1' }] };
    const first = await server.fhir('Patient', { method: 'POST', body: twin });
    await server.fhir('Patient', { method: 'POST', body: twin });
    const message = (id: string) => `MSH|^~\\&|HIS3|H3|CB|CB|20240315093000||ADT^A08^ADT_A01|${id}|P|2.5\rPID|1||TWIN-1^^^^MR||吴十||19700101|M\r`;
    const reply = await send(message('TWIN-A'));
    expect(reply.message.get('MSA-1')).toBe('AE');
    expect(reply.message.get('ERR-8')).toMatch(/matched 2 resources/);
    await send(message('TWIN-B'));
    const failed = (await admin('/messages?sender-application=HIS3&status=failed')).body.messages;
    expect(failed.map((m: any) => m.controlId).sort()).toEqual(['TWIN-A', 'TWIN-B']);

    // Rejected messages cannot be reprocessed; failed ones can, one or all for the sender.
    const rejected = await send('MSH|^~\\&|HIS3|H3|CB|CB|20240315093000||MDM^T02^MDM_T02|TWIN-R|P|2.5\r');
    expect(rejected.message.get('MSA-1')).toBe('AR');
    const rejectedRow = (await admin('/messages?control-id=TWIN-R')).body.messages[0];
    expect((await admin(`/messages/${rejectedRow.id}/$reprocess`, { method: 'POST' })).status).toBe(409);
    const still = await admin(`/messages/${failed[0].id}/$reprocess`, { method: 'POST' });
    expect(still.body).toMatchObject({ status: 'failed', error: expect.stringMatching(/matched 2 resources/) });

    expect((await server.fhir(`Patient/${first.body.id}`, { method: 'DELETE' })).status).toBe(200);
    const bulk = await admin('/$reprocess', { method: 'POST', body: { senderApplication: 'HIS3', senderFacility: 'H3' } });
    expect(bulk.body).toMatchObject({ reprocessed: 2, processed: 2, failed: 0 });
    const [patient] = await search('Patient?identifier=TWIN-1');
    expect(patient.name[0].family).toBe('吴十');
    const detail = (await admin(`/messages/${failed[0].id}`)).body;
    expect(detail).toMatchObject({ status: 'processed', attempts: 3, error: null });
    expect(detail.ack).toMatch(/MSA\|AA\|/);
    expect((await admin('/$reprocess', { method: 'POST', body: { senderApplication: 'HIS3' } })).status).toBe(400);
  });
});

describe('carebridge hl7 reprocess (CLI against the running server)', () => {
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['src/cli.ts', 'hl7', 'reprocess', ...args], { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('reprocesses by id and by sender, and says why when a message still fails', async () => {
    const twin = { resourceType: 'Patient', identifier: [{ system: 'https://fhir.carebridge.cn/NamingSystem/local/H5/MR', value: 'TWIN-5' }] };
    const first = await server.fhir('Patient', { method: 'POST', body: twin });
    await server.fhir('Patient', { method: 'POST', body: twin });
    await send('MSH|^~\\&|HIS5|H5|CB|CB|20240315093000||ADT^A08^ADT_A01|CLI-1|P|2.5\rPID|1||TWIN-5^^^^MR||郑十一||19700101|M\r');
    const id = (await admin('/messages?control-id=CLI-1')).body.messages[0].id;
    const still = await cli('--server', server.url, '--id', id);
    expect(still.code).toBe(1);
    expect(still.stdout).toMatch(new RegExp(`^${id} → failed: .*matched 2 resources`));
    await server.fhir(`Patient/${first.body.id}`, { method: 'DELETE' });
    const fixed = await cli('--server', server.url, '--sender', 'HIS5', '--facility', 'H5');
    expect([fixed.code, fixed.stdout]).toEqual([0, `${id} → processed\n`]);
    expect((await cli('--server', server.url, '--id', 'abc')).code).toBe(2);
    expect((await cli('--server', server.url, '--sender', 'HIS5')).code).toBe(2);
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    const down = await cli('--server', `http://127.0.0.1:${closed}`, '--id', id);
    expect([down.code, down.stderr]).toEqual([1, `carebridge hl7 reprocess: cannot reach http://127.0.0.1:${closed}: ECONNREFUSED\n`]);
  });
});

describe('ordering', () => {
  it('messages about one patient arriving on several connections at once are applied one at a time in arrival order', async () => {
    const connections = await Promise.all([1, 2, 3, 4].map(() => Client.connect(server.mllpPort)));
    const perConnection = 8;
    const message = (c: number, i: number) => `MSH|^~\\&|HIS4|H4|CB|CB|20240315093000||ADT^A08^ADT_A01|ORD-${c}-${i}|P|2.5\rPID|1||ORDER-1^^^H4^MR||名${c}-${i}||19700101|M\r`;
    await Promise.all(connections.map(async (client, c) => {
      for (let i = 0; i < perConnection; i++) {
        await client.write(frame(message(c, i)));
        await client.waitFor(i + 1);
      }
    }));
    for (const client of connections) client.close();
    const rows = (await server.pool.query(`SELECT id, control_id, status, resources FROM hl7_message WHERE sender_application = 'HIS4' ORDER BY id`)).rows;
    expect(rows).toHaveLength(4 * perConnection);
    expect(rows.every((r) => r.status === 'processed')).toBe(true);
    // Every message changed the name, so each made the next Patient version: in id (arrival) order.
    const versions = rows.map((r) => Number(r.resources.find((x: string) => x.startsWith('Patient/')).split('/')[3]));
    expect(versions).toEqual(versions.map((_, i) => i + 1));
    const [patient] = await search('Patient?identifier=ORDER-1');
    expect(patient.name[0].family).toBe(`名${rows.at(-1).control_id.slice(4)}`);
  });
});
