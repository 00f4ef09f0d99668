// HL7 v2 → FHIR mapping end to end: messages sent over real MLLP sockets to a real server, the
// resulting FHIR resources read back over REST and checked field by field (issue 3, "Mapping to
// FHIR R4"). Fixtures: syn_cn_* (CC0, written for CareBridge), ig_test_ORU_R01 (HL7 v2-to-FHIR
// IG, CC0), ms_* (microsoft/FHIR-Converter, MIT) — see tests/fixtures/hl7/SOURCES.md.
import { describe, expect, it } from 'vitest';
import { fixture, sendTo } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();
const send = (payload: Buffer | string) => sendTo(server.mllpPort, payload);

async function search(path: string): Promise<any[]> {
  const reply = await server.fhir(path);
  expect(reply.status).toBe(200);
  return (reply.body.entry ?? []).filter((e: any) => e.search?.mode !== 'outcome').map((e: any) => e.resource);
}

async function one(path: string): Promise<any> {
  const found = await search(path);
  expect(found, path).toHaveLength(1);
  return found[0];
}

/** Waits until a message (by control id) has left status `received` (enhanced mode acks before applying). */
async function applied(controlId: string): Promise<{ id: string; status: string; error: string | null; warnings: any[]; unmapped_codes: any[]; resources: string[] }> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await server.pool.query('SELECT id::text, status, error, warnings, unmapped_codes, resources FROM hl7_message WHERE control_id = $1 ORDER BY id DESC LIMIT 1', [controlId]);
    const row = result.rows[0];
    if (row && row.status !== 'received') return row;
    if (Date.now() > deadline) throw new Error(`message ${controlId} was not applied in time`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const RESIDENT_ID = 'urn:oid:2.16.156.10011.1.3';
const INPATIENT_NO = 'urn:oid:2.16.156.10011.1.12';

describe('ADT (Chinese synthetic messages, GB 18030 and GBK)', () => {
  it('A01 in GB 18030 makes Patient, Encounter, Condition, AllergyIntolerance, RelatedPerson, Practitioner, Organization, Location and a Provenance', async () => {
    const reply = await send(fixture('syn_cn_ADT_A01_gb18030.hl7'));
    expect(reply.message.get('MSA-1')).toBe('CA'); // MSH-15 AL: accept ACK on commit
    const row = await applied('HISA0120240315093000001');
    expect(row).toMatchObject({ status: 'processed', error: null });

    const patient = await one(`Patient?identifier=${INPATIENT_NO}|ZY2024001234`);
    expect(patient.identifier).toEqual([
      { system: INPATIENT_NO, value: 'ZY2024001234', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } },
      { system: RESIDENT_ID, value: '11010519491231002X', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'NNCHN' }] } },
      expect.objectContaining({ value: '0012345678', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'HC' }] } }),
    ]);
    expect(patient.name).toEqual([
      { use: 'official', text: '张三', family: '张三' },
      { use: 'usual', text: 'SAN ZHANG', family: 'ZHANG', given: ['SAN'] },
    ]);
    expect(patient.gender).toBe('male');
    expect(patient.birthDate).toBe('1949-12-31');
    expect(patient.telecom).toEqual([{ system: 'phone', value: '+86 13800138000', use: 'mobile' }]);
    expect(patient.address[0]).toMatchObject({ use: 'home', line: ['北京市朝阳区建国路88号&3单元'], city: '北京市', state: '北京市', postalCode: '100022', country: 'CHN' });
    expect(patient.extension).toContainEqual({
      url: 'https://fhir.carebridge.cn/StructureDefinition/ethnicity',
      valueCodeableConcept: { coding: [{ system: 'https://fhir.carebridge.cn/CodeSystem/gb-t-3304', code: '01', display: '汉族' }], text: '汉族' },
    });
    // Chinese name search (prefix) finds the mapped patient; so does the resident ID.
    expect((await search('Patient?name=张')).map((p) => p.id)).toContain(patient.id);
    expect((await one(`Patient?identifier=${RESIDENT_ID}|11010519491231002X`)).id).toBe(patient.id);

    const encounter = await one(`Encounter?subject=Patient/${patient.id}`);
    expect(encounter).toMatchObject({
      status: 'in-progress',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      period: { start: '2024-03-15T09:00:00+08:00' }, // no offset in PV1-44: the sender's zone (Asia/Shanghai)
      serviceType: { text: '心血管内科' },
    });
    expect(encounter.identifier[0].value).toBe('ZYLS2024031500123');
    expect(encounter.participant[0]).toMatchObject({ type: [{ coding: [{ code: 'ATND' }] }], individual: { display: '王伟' } });
    expect(encounter.location[0]).toMatchObject({ status: 'active', location: { display: expect.stringContaining('心内科病区') } });
    expect(encounter.serviceProvider.display).toBe('某市人民医院');
    expect(encounter.diagnosis).toEqual([expect.objectContaining({ use: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/diagnosis-role', code: 'AD' }] }, rank: 1 })]);

    const condition = await one(`Condition?subject=Patient/${patient.id}`);
    expect(condition.code.coding).toEqual([
      { system: 'https://fhir.carebridge.cn/CodeSystem/icd-10-cn-clinical-2.0', code: 'I10.x00', display: '原发性高血压' },
      { system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' },
    ]);
    expect(condition).toMatchObject({ encounter: { reference: `Encounter/${encounter.id}` }, onsetDateTime: '2024-03-15T09:00:00+08:00', verificationStatus: { coding: [{ code: 'confirmed' }] } });
    expect(encounter.diagnosis[0].condition.reference).toBe(`Condition/${condition.id}`);

    const allergy = await one(`AllergyIntolerance?patient=Patient/${patient.id}`);
    expect(allergy).toMatchObject({ category: ['medication'], criticality: 'high', code: { text: '青霉素' }, onsetDateTime: '2010-01-01' });
    expect(allergy.reaction[0]).toEqual({ manifestation: [{ text: '皮疹' }, { text: '呼吸困难' }], severity: 'severe' });

    const contact = await one(`RelatedPerson?patient=Patient/${patient.id}`);
    expect(contact).toMatchObject({ name: [{ text: '李四' }], relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0063', code: 'SPO' }] }] });

    const provenance = (await server.fhir(`Provenance/hl7-message-${row.id}`)).body;
    expect(provenance.entity[0].what.identifier).toEqual({ system: 'https://fhir.carebridge.cn/NamingSystem/hl7-message', value: row.id });
    const targets = provenance.target.map((t: any) => t.reference);
    for (const r of [patient, encounter, condition, allergy, contact]) expect(targets).toContain(`${r.resourceType}/${r.id}`);
    expect(provenance.activity.coding[0].code).toBe('A01');
    expect(provenance.agent.map((a: any) => a.who.display)).toEqual(['某市人民医院', '李建国']);
    // The author and enterer are resources this message wrote too.
    for (const agent of provenance.agent) expect(targets).toContain(agent.who.reference);
    expect(row.resources).toContain(`Patient/${patient.id}/_history/1`);
    // Local codes with no ConceptMap are kept (sender's system) and counted.
    expect(row.unmapped_codes).toContainEqual({ system: 'https://fhir.carebridge.cn/CodeSystem/local/XYZRMYY/L', code: 'PCN' });
  });

  it('the same A01 in UTF-8 (new control id) changes nothing: mapping is idempotent', async () => {
    const patientBefore = await one(`Patient?identifier=${INPATIENT_NO}|ZY2024001234`);
    const text = fixture('syn_cn_ADT_A01_utf8.hl7').toString('utf8').replace('HISA0120240315093000001', 'HISA01-AGAIN');
    await send(text);
    expect((await applied('HISA01-AGAIN')).status).toBe('processed');
    const patientAfter = await one(`Patient?identifier=${INPATIENT_NO}|ZY2024001234`);
    expect(patientAfter.meta.versionId).toBe(patientBefore.meta.versionId);
    expect(await search(`Encounter?subject=Patient/${patientAfter.id}`)).toHaveLength(1);
    expect(await search(`Condition?subject=Patient/${patientAfter.id}`)).toHaveLength(1);
    // Its Provenance targets the patient and visit it restates, not the staff and organization
    // the first message created and this one only refers to (R4: "generated or updated").
    const row = await applied('HISA01-AGAIN');
    const provenance = (await server.fhir(`Provenance/hl7-message-${row.id}`)).body;
    const targets = provenance.target.map((t: any) => t.reference);
    expect(targets).toContain(`Patient/${patientAfter.id}`);
    expect(targets).toContain(`Encounter/${(await one(`Encounter?subject=Patient/${patientAfter.id}`)).id}`);
    expect(provenance.agent).toHaveLength(2);
    for (const agent of provenance.agent) {
      expect(agent.who.reference).toMatch(/^(Organization|Practitioner)\//);
      expect(targets).not.toContain(agent.who.reference);
    }
    expect(targets.some((t: string) => t.startsWith('Location/'))).toBe(false);
  });

  it('A03 in GBK discharges the same Encounter: status finished, end, disposition, discharge diagnosis', async () => {
    await send(fixture('syn_cn_ADT_A03_gbk.hl7'));
    expect((await applied('HISA0320240315093000001')).status).toBe('processed');
    const patient = await one(`Patient?identifier=${INPATIENT_NO}|ZY2024001234`);
    const encounter = await one(`Encounter?subject=Patient/${patient.id}`);
    expect(encounter).toMatchObject({
      status: 'finished',
      period: { start: '2024-03-15T09:00:00+08:00', end: '2024-03-22T10:00:00+08:00' },
      hospitalization: { dischargeDisposition: { coding: [{ code: '1', display: '医嘱离院' }] } },
    });
    expect(encounter.location.every((l: any) => l.status === 'completed')).toBe(true);
    const conditions = await search(`Condition?subject=Patient/${patient.id}`);
    expect(conditions).toHaveLength(2); // admitting (A) and discharge (F) diagnoses
    expect(encounter.diagnosis.map((d: any) => d.use.coding[0].code)).toEqual(['DD']);
  });
});

describe('pharmacy orders', () => {
  it('RDE^O11 makes a MedicationRequest with dose, route, BID timing with explicit times, course and dispense', async () => {
    await send(fixture('syn_cn_RDE_O11_utf8.hl7'));
    const row = await applied('HIS20240316100000042');
    expect(row.status).toBe('processed');
    const request = await one('MedicationRequest?identifier=YZ20240316001');
    expect(request).toMatchObject({
      status: 'active',
      intent: 'order',
      medicationCodeableConcept: { text: '阿莫西林胶囊', coding: [{ code: '86900234000012' }] },
      authoredOn: '2024-03-16T10:00:00+08:00',
      requester: { display: '王伟' },
      recorder: { display: '赵敏' },
    });
    const dose = request.dosageInstruction[0];
    expect(dose.timing.repeat).toMatchObject({ frequency: 2, period: 1, periodUnit: 'd', timeOfDay: ['08:00:00', '20:00:00'], boundsPeriod: { start: '2024-03-16T08:00:00+08:00', end: '2024-03-22T20:00:00+08:00' } });
    expect(dose.timing.code.coding[0].code).toBe('BID');
    expect(dose.route.coding[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v2-0162', code: 'PO', display: '口服' });
    expect(dose.doseAndRate[0].doseQuantity).toEqual({ value: 0.5, unit: '克', system: 'http://unitsofmeasure.org', code: 'g' });
    expect(dose.patientInstruction).toBe('饭后服用');
    expect(request.dispenseRequest).toMatchObject({ quantity: { value: 28, unit: '粒' }, expectedSupplyDuration: { value: 7, unit: 'd' } });
    // The patient is referenced, not overwritten, by an order message with a bare PID.
    const patient = await one(`Patient?identifier=${INPATIENT_NO}|ZY2024001234`);
    expect(request.subject.reference).toBe(`Patient/${patient.id}`);
    expect(patient.identifier).toHaveLength(3);
  });

  it('OMP^O09 with RXO, Q8H timing and PRN', async () => {
    const message = [
      'MSH|^~\\&|HIS|XYZRMYY|PHARM|XYZRMYY|20240401080000||OMP^O09^OMP_O09|OMP-1|P|2.5||||||UNICODE UTF-8',
      'PID|1||ZY2024001234^^^&2.16.156.10011.1.12&ISO^MR||张三',
      'ORC|NW|YZ-OMP-1^HIS|||||||20240401080000|||1024^王^伟',
      'RXO|IBU200^布洛芬片^L|200||mg^毫克^UCUM|||||||20|TAB^片^L|2',
      'TQ1|1||Q8H PRN|||3^d',
      'RXR|PO^口服^HL70162',
    ].join('\r');
    await send(message);
    expect((await applied('OMP-1')).status).toBe('processed');
    const request = await one('MedicationRequest?identifier=YZ-OMP-1');
    expect(request.dosageInstruction[0]).toMatchObject({
      asNeededBoolean: true,
      timing: { repeat: { frequency: 1, period: 8, periodUnit: 'h', boundsDuration: { value: 3, unit: 'd' } } },
      doseAndRate: [{ doseQuantity: { value: 200, code: 'mg' } }],
    });
    expect(request.dispenseRequest).toMatchObject({ quantity: { value: 20 }, numberOfRepeatsAllowed: 2 });
  });
});

describe('results (ORU^R01)', () => {
  it('IG sample: DiagnosticReport with its Observations, values, units, reference ranges, interpretations, statuses', async () => {
    await send(fixture('ig_test_ORU_R01.hl7'));
    const row = await applied('20251014154001-425');
    expect(row.status).toBe('processed');
    const report = await one('DiagnosticReport?identifier=LAB4432');
    expect(report).toMatchObject({ status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '51523-9' }] }, issued: expect.stringMatching(/^2015-06-01T18:11:00/) });
    const observations = await search(`Observation?_id=${report.result.map((r: any) => r.reference.split('/')[1]).join(',')}`);
    expect(observations.length).toBe(report.result.length);
    const bermuda = observations.find((o) => o.code.coding[0].code === '6041-8');
    expect(bermuda).toMatchObject({
      status: 'final',
      valueQuantity: { value: 0.59, unit: 'kU/L', system: 'http://unitsofmeasure.org', code: 'kU/L' },
      interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'A' }] }],
      referenceRange: [{ high: { value: 0.1 } }],
      category: [{ coding: [{ code: 'laboratory' }] }],
    });
  });

  it('Chinese lab flags ↑ ↓, structured numeric, text values, corrected status, range "3.5-5.5"', async () => {
    const message = [
      'MSH|^~\\&|LIS|XYZRMYY|CB|CB|20240320101500||ORU^R01^ORU_R01|LIS-1|P|2.5||||||UNICODE UTF-8',
      'PID|1||ZY2024001234^^^&2.16.156.10011.1.12&ISO^MR||张三',
      'OBR|1||JY20240320-7^LIS|CHEM7^生化七项^L|||20240320080000|||||||||||||||20240320101000|||F',
      'OBX|1|NM|2951-2^钠^LN||128|mmol/L^^UCUM|137-145|↓|||F|||20240320080000',
      'OBX|2|NM|2823-3^钾^LN||5.9|mmol/L^^UCUM|3.5-5.5|↑|||C|||20240320080000',
      'OBX|3|SN|2160-0^肌酐^LN||>^500|umol/L^^UCUM||HH|||F',
      'OBX|4|ST|5778-6^尿色^LN||淡黄色||||||F',
      'NTE|1||复查',
    ].join('\r');
    await send(message);
    expect((await applied('LIS-1')).status).toBe('processed');
    const report = await one('DiagnosticReport?identifier=JY20240320-7');
    expect(report.result).toHaveLength(4);
    const byCode = new Map((await search(`Observation?subject=${report.subject.reference}&category=laboratory&_count=100`)).map((o) => [o.code.coding[0].code, o]));
    expect(byCode.get('2951-2')).toMatchObject({ valueQuantity: { value: 128, code: 'mmol/L' }, interpretation: [{ coding: [{ code: 'L' }], text: '↓' }], referenceRange: [{ low: { value: 137 }, high: { value: 145 } }], effectiveDateTime: '2024-03-20T08:00:00+08:00' });
    expect(byCode.get('2823-3')).toMatchObject({ status: 'corrected', interpretation: [{ coding: [{ code: 'H' }], text: '↑' }] });
    expect(byCode.get('2160-0')).toMatchObject({ valueQuantity: { value: 500, comparator: '>', code: 'umol/L' }, interpretation: [{ coding: [{ code: 'HH' }] }], effectiveDateTime: '2024-03-20T08:00:00+08:00' });
    expect(byCode.get('5778-6')).toMatchObject({ valueString: '淡黄色', note: [{ text: '复查' }] });
  });
});

describe('ADT trigger events and merge', () => {
  const adt = (id: string, trigger: string, pid: string, pv1: string, extra: string[] = []) =>
    [`MSH|^~\\&|HIS|T1|CB|CB|20240501100000||ADT^${trigger}^ADT_A01|${id}|P|2.5`, `EVN|${trigger}|20240501100000`, pid, pv1, ...extra].join('\r');
  const pid = (mr: string, name = '王五') => `PID|1||${mr}^^^T1^MR||${name}||19800101|2`;

  it('A01 → A02 (transfer) → A08 (update) → A13 (cancel discharge after A03) → A11 (cancel admit)', async () => {
    await send(adt('T-1', 'A01', pid('MR-T1'), 'PV1|1|I|W1^101^1||||D1^李^明||||||||||||V-T1^^^T1^VN|||||||||||||||||||||||||20240501090000'));
    await send(adt('T-2', 'A02', pid('MR-T1'), 'PV1|1|I|W2^202^2|||W1^101^1|D1^李^明||||||||||||V-T1^^^T1^VN|||||||||||||||||||||||||20240501090000'));
    await send(adt('T-3', 'A08', pid('MR-T1', '王五五'), 'PV1|1|I|W2^202^2||||D1^李^明||||||||||||V-T1^^^T1^VN|||||||||||||||||||||||||20240501090000'));
    for (const id of ['T-1', 'T-2', 'T-3']) expect((await applied(id)).status).toBe('processed');
    const patient = await one('Patient?identifier=MR-T1');
    expect(patient).toMatchObject({ gender: 'female', name: [{ family: '王五五' }] }); // GB/T 2261.1 code 2; A08 updated the name
    let encounter = await one(`Encounter?subject=Patient/${patient.id}`);
    expect(encounter.status).toBe('in-progress'); // A08 keeps the status
    expect(encounter.location.map((l: any) => [l.location.display, l.status])).toEqual([['W1 101 1', 'completed'], ['W2 202 2', 'active']]);

    await send(adt('T-4', 'A03', pid('MR-T1', '王五五'), 'PV1|1|I|W2^202^2||||D1^李^明||||||||||||V-T1^^^T1^VN|||||||||||||||||||||||||20240501090000|20240505120000'));
    await send(adt('T-5', 'A13', pid('MR-T1', '王五五'), 'PV1|1|I|W2^202^2||||D1^李^明||||||||||||V-T1^^^T1^VN|||||||||||||||||||||||||20240501090000'));
    expect((await applied('T-5')).status).toBe('processed');
    encounter = await one(`Encounter?subject=Patient/${patient.id}`);
    expect(encounter.status).toBe('in-progress');
    expect(encounter.period.end).toBeUndefined();
    await send(adt('T-6', 'A11', pid('MR-T1', '王五五'), 'PV1|1|I|W2^202^2||||D1^李^明||||||||||||V-T1^^^T1^VN'));
    expect((await applied('T-6')).status).toBe('processed');
    expect((await one(`Encounter?subject=Patient/${patient.id}`)).status).toBe('cancelled');
  });

  it('A40 merges: the old Patient is retired and linked, its resources move to the survivor', async () => {
    await send(adt('M-1', 'A01', pid('MR-OLD', '赵六'), 'PV1|1|I|W1^1^1||||||||||||||||V-OLD^^^T1^VN', ['DG1|1||E11.900^2型糖尿病^ICD10-CN-NHC-2.0||20240501|A']));
    await send(adt('M-2', 'A04', pid('MR-NEW', '赵六'), 'PV1|1|O|||||||||||||||||V-NEW^^^T1^VN'));
    await send([`MSH|^~\\&|HIS|T1|CB|CB|20240502100000||ADT^A40^ADT_A39|M-3|P|2.5`, 'EVN|A40|20240502100000', pid('MR-NEW', '赵六'), 'MRG|MR-OLD^^^T1^MR'].join('\r'));
    expect((await applied('M-3')).status).toBe('processed');
    const old = await one('Patient?identifier=MR-OLD');
    const survivor = await one('Patient?identifier=MR-NEW&active=true');
    expect(old.active).toBe(false);
    expect(old.link).toEqual([{ other: { reference: `Patient/${survivor.id}` }, type: 'replaced-by' }]);
    expect(survivor.link).toEqual([{ other: { reference: `Patient/${old.id}` }, type: 'replaces' }]);
    expect(await search(`Encounter?subject=Patient/${old.id}`)).toHaveLength(0);
    expect(await search(`Encounter?subject=Patient/${survivor.id}`)).toHaveLength(2);
    const condition = await one(`Condition?subject=Patient/${survivor.id}`);
    expect(condition.code.coding.map((c: any) => c.code)).toEqual(['E11.900', 'E11.9']);
    // A later ADT replaces demographics but keeps the merge: links stay, the retired record stays retired.
    await send(adt('M-4', 'A08', pid('MR-NEW', '赵六六'), 'PV1|1|O|||||||||||||||||V-NEW^^^T1^VN'));
    await send(adt('M-5', 'A08', pid('MR-OLD', '赵六'), 'PV1|1|O|||||||||||||||||V-OLD^^^T1^VN'));
    expect((await applied('M-5')).status).toBe('processed');
    expect((await one('Patient?identifier=MR-NEW')).link).toEqual(survivor.link);
    expect(await one('Patient?identifier=MR-OLD')).toMatchObject({ active: false, link: old.link });
  });

  it('a diagnosis without a visit is identified by the patient: re-sending it updates the same Condition', async () => {
    const message = (id: string) => adt(id, 'A08', pid('MR-DG'), 'PV1|1|O', ['DG1|1||J44.100^慢阻肺急性加重^ICD10-CN-NHC-2.0||20240501|W']);
    await send(message('DG-1'));
    await send(message('DG-2'));
    expect((await applied('DG-2')).warnings).toContainEqual(expect.objectContaining({ segment: 'PV1', field: 19 }));
    const patient = await one('Patient?identifier=MR-DG');
    const condition = await one(`Condition?subject=Patient/${patient.id}`);
    expect(condition.verificationStatus.coding[0].code).toBe('provisional'); // W (working)
  });
});

describe('errors and warnings', () => {
  it('AE with an ERR naming the field when the message cannot be applied; the message is kept as failed', async () => {
    const reply = await send('MSH|^~\\&|HIS|T1|CB|CB|20240501100000||ADT^A01^ADT_A01|BAD-DATE|P|2.5\rPID|1||MR-BAD^^^T1^MR||钱七||19801301|M\r');
    expect(reply.message.get('MSA-1')).toBe('AE');
    expect(reply.message.get('ERR-2.1')).toBe('PID');
    expect(reply.message.get('ERR-2.3')).toBe('7');
    expect(reply.message.get('ERR-3.1')).toBe('102');
    expect(reply.message.get('ERR-8')).toMatch(/PID-7.*19801301/);
    expect(await applied('BAD-DATE')).toMatchObject({ status: 'failed', error: expect.stringMatching(/PID-7/) });
    expect(await search('Patient?identifier=MR-BAD')).toHaveLength(0); // nothing half-written
    const noPid = await send('MSH|^~\\&|HIS|T1|CB|CB|20240501100000||ADT^A01^ADT_A01|NO-PID|P|2.5\rEVN|A01\r');
    expect([noPid.message.get('MSA-1'), noPid.message.get('ERR-3.1')]).toEqual(['AE', '100']);
  });

  it('an invalid resident ID is not stored and the AA carries a warning', async () => {
    const reply = await send('MSH|^~\\&|HIS|T1|CB|CB|20240501100000||ADT^A04^ADT_A01|BAD-ID|P|2.5\rPID|1||MR-ID^^^T1^MR~110105194912310021^^^&2.16.156.10011.1.3&ISO^NNCHN||孙八||19491231|M\r');
    expect(reply.message.get('MSA-1')).toBe('AA');
    expect(reply.message.get('ERR-4')).toBe('W');
    expect(reply.message.get('ERR-8')).toMatch(/resident ID 110105194912310021.*check character is 1, expected X/);
    const patient = await one('Patient?identifier=MR-ID');
    expect(patient.identifier.map((i: any) => i.value)).toEqual(['MR-ID']);
  });

  it('a malformed start date in RXE-1 (TQ) is an AE 102 naming RXE-1', async () => {
    const reply = await send('MSH|^~\\&|HIS|T1|CB|CB|20240501100000||RDE^O11^RDE_O11|BAD-TQ|P|2.5\rPID|1||MR-TQ^^^T1^MR||冯十二\rORC|NW|TQ-1^HIS\rRXE|^QD^^2024133^20240520|D1^某药^L|1||TAB\r');
    expect([reply.message.get('MSA-1'), reply.message.get('ERR-3.1'), reply.message.get('ERR-2.1'), reply.message.get('ERR-2.3')]).toEqual(['AE', '102', 'RXE', '1']);
  });

  it('an OBX without an identifier is an AE 101 naming OBX-3; nothing is written', async () => {
    // An OBX with an empty code cannot become an Observation: AE, nothing written.
    const reply = await send('MSH|^~\\&|LIS|T1|CB|CB|20240501100000||ORU^R01^ORU_R01|NO-CODE|P|2.5\rPID|1||MR-OBX^^^T1^MR||周九\rOBR|1||R-1^LIS|CBC^血常规^L\rOBX|1|NM|||5|g/L\r');
    expect(reply.message.get('MSA-1')).toBe('AE');
    expect(reply.message.get('ERR-8')).toMatch(/OBX-3/);
    expect(await search('Patient?identifier=MR-OBX')).toHaveLength(0);
  });
});
