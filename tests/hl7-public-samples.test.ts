// Public HL7 v2 sample messages (microsoft/FHIR-Converter sample data, MIT; see
// tests/fixtures/hl7/SOURCES.md) sent over MLLP and checked field by field in FHIR: v2.8 ADT
// A01/A03/A40, RDE O11/O25, a v2.3 ADT with a byte order mark, and a v2.5.1 ORU whose empty OBX-3
// cannot be applied (AE with the reason, nothing written). These messages reuse MSH-10 MSG00001, so
// each is given its own control id before sending (a re-used id is a duplicate by design).
import { describe, expect, it } from 'vitest';
import { Client, fixture, frame, sendTo } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

/** The fixture with MSH-10 replaced (bytes otherwise unchanged). */
function withControlId(name: string, controlId: string): Buffer {
  const text = fixture(name).toString('latin1');
  const fields = text.split('\r')[0]!.split('|');
  return Buffer.from(text.replace(`|${fields[9]}|`, `|${controlId}|`), 'latin1');
}

async function search(path: string): Promise<any[]> {
  const reply = await server.fhir(path);
  expect(reply.status).toBe(200);
  return (reply.body.entry ?? []).filter((e: any) => e.search?.mode !== 'outcome').map((e: any) => e.resource);
}

async function status(controlId: string): Promise<{ status: string; error: string | null }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await server.pool.query('SELECT status, error FROM hl7_message WHERE control_id = $1', [controlId]);
    if (rows[0] && rows[0].status !== 'received') return rows[0];
    if (Date.now() > deadline) throw new Error(`${controlId} not applied`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const LOCAL = 'https://fhir.carebridge.cn/NamingSystem/local';

describe('public v2.8 ADT samples', () => {
  it('A01: Patient with identifiers, names by type, Encounter, RelatedPerson, AllergyIntolerance-free, vital-sign Observation', async () => {
    const ack = await sendTo(server.mllpPort, withControlId('ms_ADT-A01-01.hl7', 'PUB-A01'));
    expect([ack.message.get('MSA-1'), ack.message.get('MSA-2')]).toEqual(['AA', 'PUB-A01']);
    const [patient] = await search(`Patient?identifier=${LOCAL}/GHHSFacility/test1|PATID1234`);
    expect(patient.identifier.map((i: any) => [i.value, i.type?.coding?.[0]?.code])).toEqual([['PATID1234', 'MR'], ['123456789', 'SS'], ['1234567', 'MR']]);
    expect(patient.name[0]).toMatchObject({ use: 'usual', family: 'EVERYMAN', given: ['ADAM', 'A'], prefix: ['Dr.'], suffix: ['III'] });
    expect(patient.name[1]).toMatchObject({ use: 'official', family: 'Josh' });
    const [encounter] = await search(`Encounter?subject=Patient/${patient.id}`);
    expect(encounter).toMatchObject({ status: 'in-progress', class: { code: 'PRENC' } });
    expect(encounter.identifier[0].value).toBe('40007716');
    const [observation] = await search(`Observation?subject=Patient/${patient.id}&code=http://loinc.org|8867-4`);
    expect(observation).toMatchObject({ status: 'preliminary', category: [{ coding: [{ code: 'vital-signs' }] }], effectiveDateTime: '1999-07-02' });
    expect(await search(`RelatedPerson?patient=Patient/${patient.id}`)).toHaveLength(1);
  });

  it('A03 for the same visit finishes the Encounter and adds the AL1 allergy', async () => {
    await sendTo(server.mllpPort, withControlId('ms_ADT-A03-01.hl7', 'PUB-A03'));
    expect(await status('PUB-A03')).toEqual({ status: 'processed', error: null });
    const [patient] = await search(`Patient?identifier=${LOCAL}/GHHSFacility/test1|PATID1234`);
    const encounters = await search(`Encounter?subject=Patient/${patient.id}`);
    expect(encounters).toHaveLength(1);
    expect(encounters[0].status).toBe('finished');
    const [allergy] = await search(`AllergyIntolerance?patient=Patient/${patient.id}`);
    expect(allergy).toMatchObject({ category: ['environment'], criticality: 'low', code: { text: 'PENICILLIN' }, onsetDateTime: '2021-08-24' });
  });

  it('A40 (MSH-15/16 NE: no ACK at all) merges BCBS 56789 into 12345', async () => {
    // The record to be merged away, with a visit.
    await sendTo(server.mllpPort, 'MSH|^~\\&|Ntierprise|Ntierprise Clinic|CB|CB|20190423150137+0215||ADT^A04^ADT_A01|PUB-A40-PRE|P|2.8\rPID|1||56789^^^BCBS^MR||Old^Record||20180205|F\rPV1|1|O|||||||||||||||||V-56789^^^BCBS^VN\r');
    const client = await Client.connect(server.mllpPort);
    await client.write(frame(withControlId('ms_ADT-A40-01.hl7', 'PUB-A40')));
    expect(await status('PUB-A40')).toEqual({ status: 'processed', error: null });
    expect(client.frames).toHaveLength(0); // NE/NE: neither accept nor application acknowledgement
    client.close();
    const bcbs = (value: string) => `Patient?identifier=${encodeURIComponent(`${LOCAL}/Ntierprise%20Clinic/BCBS|${value}`)}`;
    const [old] = await search(bcbs('56789'));
    const [survivor] = await search(bcbs('12345'));
    expect(old).toMatchObject({ active: false, link: [{ type: 'replaced-by', other: { reference: `Patient/${survivor.id}` } }] });
    expect(survivor).toMatchObject({ name: [{ family: 'Test', given: ['Test', 'A'] }], gender: 'female', birthDate: '2018-02-05' });
    expect(await search(`Encounter?subject=Patient/${survivor.id}`)).toHaveLength(1);
  });

  it('a v2.3 ADT^A01 with a UTF-8 byte order mark and no MSH-9.3', async () => {
    const ack = await sendTo(server.mllpPort, fixture('ms_ADT01-23.hl7'));
    expect(ack.message.get('MSA-1')).toBe('AA');
    const [patient] = await search(`Patient?identifier=${LOCAL}/1/MR|10006579`);
    expect(patient).toMatchObject({ name: [{ family: 'DUCK', given: ['DONALD', 'D'] }], gender: 'male', birthDate: '1924-10-10' });
  });
});

describe('public v2.8 pharmacy samples', () => {
  it('RDE^O11 then RDE^O25 (refill) for the same placer order: one MedicationRequest, updated', async () => {
    await sendTo(server.mllpPort, withControlId('ms_RDE-O11-01.hl7', 'PUB-O11'));
    await sendTo(server.mllpPort, withControlId('ms_RDE-O25-01.hl7', 'PUB-O25'));
    expect(await status('PUB-O11')).toEqual({ status: 'processed', error: null });
    expect(await status('PUB-O25')).toEqual({ status: 'processed', error: null });
    const requests = await search('MedicationRequest?identifier=1163422591');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc', code: '0143963401' }] },
      authoredOn: '2019-11-04T06:27:26+02:15',
    });
    expect(requests[0].dosageInstruction[0].timing.repeat).toMatchObject({ frequency: 3, period: 1, periodUnit: 'd', boundsDuration: { value: 3, unit: 'd' } });
  });
});

describe('public ORU sample that cannot be applied', () => {
  it('an OBX without OBX-3 is an AE naming it (sent in original mode); the message is kept as failed and nothing is written', async () => {
    const count = async () => (await server.fhir('Observation?_summary=count')).body.total as number;
    const before = await count();
    expect(before).toBeGreaterThan(0);
    const ack = await sendTo(server.mllpPort, withControlId('ms_ORU-R01-01.hl7', 'PUB-ORU').toString('latin1').replace('|T|2.5.1|||AL|NE|', '|T|2.5.1|||||'));
    expect(ack.message.get('MSA-1')).toBe('AE');
    expect(ack.message.get('ERR-8')).toBe('OBX-3 observation identifier is empty');
    expect(ack.message.get('ERR-2.1')).toBe('OBX');
    expect(await status('PUB-ORU')).toEqual({ status: 'failed', error: 'OBX-3 observation identifier is empty' });
    expect(await search('Patient?identifier=14')).toHaveLength(0);
    expect(await count()).toBe(before);
  });
});
