// Issue 6, "Done when", end to end on the real path with the test clock: HL7 over MLLP (an ED
// visit, an emergency admission, discharge medication before and after the A03, an A03 with I10
// and E11.9) → RiskAssessment with the expected LACE points, one CarePlan, Tasks with due dates
// that skip the National Day holidays; an ORU with SBP 185 → a stat alert Task; three days of
// silence → missed-report Tasks; past-due follow-ups → overdue Tasks; a follow-up record "not
// controlled" → the next follow-up in two weeks; replays create nothing twice; an old discharge
// creates no plan.
import { describe, expect, it } from 'vitest';
import { sendTo } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';
import { until as waitUntil } from './helpers/wait.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'on', SUBSCRIPTION_POLL_MS: '50', CAREBRIDGE_TEST_CLOCK: '1' });

const until = <T>(what: string, check: () => Promise<T | undefined>) => waitUntil(what, check, 15_000, 50);
const search = async (path: string) => ((await server.fhir(path)).body.entry ?? []).map((e: any) => e.resource).filter((r: any) => r.resourceType !== 'OperationOutcome');

const TASK_TYPE = 'https://carebridge.dev/fhir/CodeSystem/task-type';
const MRN = 'ZY-E2E-0001';

function hl7(type: string, controlId: string, ...segments: string[]): string {
  return [`MSH|^~\\&|HIS|E2E^测试医院|CAREBRIDGE|CB|20250930100000||${type}|${controlId}|P|2.5|||||CHN|UNICODE UTF-8`, ...segments].join('\r');
}
const pid = `PID|1||${MRN}^^^&2.16.156.10011.1.12&ISO^MR||吴十五^^^^^^L||19500315|M|||上海市徐汇区漕溪北路1号^^上海市^上海市^200030^CHN^H`;
// PV1-2 class, PV1-4 admission type (E: emergency → acute), PV1-19 visit number, PV1-44/45 admission/discharge.
const pv1 = (cls: string, visit: string, admitted: string, discharged = '') =>
  `PV1|1|${cls}|0601^0601-3^01^E2E^^^^^内分泌科病区|E|||2048^刘^洋|||END^内分泌科^L|||||||||${visit}^^^E2E^VN|||||||||||||||||${discharged ? '1^医嘱离院^CN_LYFS' : ''}||||||||${admitted}|${discharged}`;
const discharge = (controlId: string, discharged: string, disposition?: string) =>
  hl7(
    'ADT^A03^ADT_A03',
    controlId,
    `EVN|A03|${discharged}`,
    pid,
    disposition ? pv1('I', 'ZY-E2E-V1', '20250922080000', discharged).replace('1^医嘱离院^CN_LYFS', disposition) : pv1('I', 'ZY-E2E-V1', '20250922080000', discharged),
    `DG1|1||I10^原发性高血压^I10||${discharged}|F^出院诊断^HL70052|||||||||1`,
    `DG1|2||E11.9^2型糖尿病不伴并发症^I10||${discharged}|F^出院诊断^HL70052|||||||||2`,
  );
const medication = (controlId: string, order: string, drug: string, timing: string) =>
  hl7(
    'RDE^O11^RDE_O11',
    controlId,
    pid,
    pv1('I', 'ZY-E2E-V1', '20250922080000'),
    `ORC|NW|${order}^HIS||${order}^HIS|||^^^20250929100000^^R||20250929100000|0456^赵^敏||2048^刘^洋`,
    `RXE|^${timing}^^20250930^20251030^R|${drug}^ATC|1||TAB^片^L|TAB^片^L|||||||||||||||||||`,
    `TQ1|1||${timing}|||||20250930080000|20251030200000`,
    'RXR|PO^口服^HL70162',
  );

async function accepted(message: string): Promise<void> {
  const { message: ack } = await sendTo(server.mllpPort, message);
  expect(ack.get('MSA-1'), `${message.slice(0, 80)} → ${ack.get('ERR-8') ?? ack.get('MSA-3') ?? ''}`).toBe('AA');
}

async function moveClock(body: Record<string, string>): Promise<{ now: string; jobsRun: number }> {
  const reply = await fetch(`${server.url}/admin/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(reply.status, await reply.clone().text()).toBe(200);
  return (await reply.json()) as { now: string; jobsRun: number };
}

describe('follow-up end to end (HL7 → plan → alerts → silence → record), with the test clock', () => {
  let patient: any;
  let carePlan: any;
  const tasksByType = async () => {
    const group: Record<string, any[]> = {};
    for (const t of await search(`Task?patient=Patient/${patient.id}&_count=200`)) (group[t.code.coding[0].code] ??= []).push(t);
    return group;
  };

  it('refuses malformed clock moves with a clear error', async () => {
    for (const body of ['{}', '{"now":"2025-09-30"}', '{"advanceBy":"3 days"}', '{"now":"2025-09-30T12:00:00+08:00","advanceBy":"P1D"}', '{"later":"P1D"}', '[]', 'not json']) {
      const reply = await fetch(`${server.url}/admin/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(reply.status, body).toBe(400);
      expect(((await reply.json()) as any).resourceType, body).toBe('OperationOutcome');
    }
  });

  it('on discharge: LACE, one CarePlan and Tasks due on business days', async () => {
    // Tuesday 30 September 2025 at noon in Beijing: the day before the National Day holidays (1–8 October).
    const set = await moveClock({ now: '2025-09-30T12:00:00+08:00' });
    expect(Date.parse(set.now) - Date.parse('2025-09-30T04:00:00Z')).toBeLessThan(5_000);
    expect(((await (await fetch(`${server.url}/admin/clock`)).json()) as any).testClock).toBe(true);

    // An ED visit in August (LACE E), then the emergency admission on 22 September (LACE A).
    await accepted(hl7('ADT^A04^ADT_A01', 'E2E-ED-1', 'EVN|A04|20250810090000', pid, pv1('E', 'ZY-E2E-ED1', '20250810090000')));
    await accepted(hl7('ADT^A01^ADT_A01', 'E2E-A01', 'EVN|A01|20250922080000', pid, pv1('I', 'ZY-E2E-V1', '20250922080000')));
    // Discharge medication before the A03 (metformin twice a day) …
    await accepted(medication('E2E-RDE-1', 'YZ-E2E-1', 'A10BA02^盐酸二甲双胍片', 'BID&0800,2000'));
    await accepted(discharge('E2E-A03', '20250930100000'));
    // … and after it (valsartan once a day at 08:00): the plan gets its reminder and re-check too.
    await accepted(medication('E2E-RDE-2', 'YZ-E2E-2', 'C09CA03^缬沙坦胶囊', 'QD&0800'));

    [patient] = await search(`Patient?identifier=urn:oid:2.16.156.10011.1.12|${MRN}`);
    carePlan = await until('the CarePlan', async () => (await search(`CarePlan?subject=Patient/${patient.id}`))[0]);
    expect(carePlan.instantiatesCanonical).toEqual([
      'https://carebridge.dev/fhir/PlanDefinition/transitional-care|1.0.0',
      'https://carebridge.dev/fhir/PlanDefinition/hypertension|1.0.0',
      'https://carebridge.dev/fhir/PlanDefinition/type-2-diabetes|1.0.0',
    ]);
    // LACE: stay 22–30 September = 9 days (L 5), emergency admission (A 3), diabetes without
    // complications (C 1; hypertension is no Charlson condition), one ED visit in 6 months (E 1): 10, high.
    const [lace] = (await search(`RiskAssessment?subject=Patient/${patient.id}`)).filter((r: any) => r.method.coding[0].code === 'LACE');
    expect(lace.extension).toEqual([{ url: 'https://carebridge.dev/fhir/StructureDefinition/risk-score', valueDecimal: 10 }]);
    expect(lace.prediction[0]).toMatchObject({ outcome: { text: '30-day readmission' }, qualitativeRisk: { coding: [{ code: 'high' }] } });
    const components = await Promise.all(lace.basis.filter((b: any) => b.reference.startsWith('Observation/')).map(async (b: any) => (await server.fhir(b.reference)).body));
    expect(Object.fromEntries(components.map((o: any) => [o.code.coding[0].code, o.valueInteger]))).toEqual({ 'LACE-L': 5, 'LACE-A': 3, 'LACE-C': 1, 'LACE-E': 1 });

    const tasks = await until('both medication reminders', async () => {
      const group = await tasksByType();
      return group['medication-reminder']?.length === 2 ? group : undefined;
    });
    // Contact within 2 business days: 1–8 October are days off, so Thursday 9 and Friday 10 October.
    expect(tasks['first-contact']).toHaveLength(1);
    expect(tasks['first-contact']![0]).toMatchObject({ status: 'requested', priority: 'urgent', restriction: { period: { end: '2025-10-10' } }, for: { reference: `Patient/${patient.id}` } });
    // High risk: the visit within 7 days instead of 14.
    expect(tasks['visit']![0].restriction.period.end).toBe('2025-10-07');
    expect(tasks['follow-up']!.map((t: any) => t.restriction.period.end)).toEqual(['2025-10-14', '2025-10-14']);
    expect(tasks['medication-reminder']!.map((t: any) => t.description).sort()).toEqual(['盐酸二甲双胍片 BID 08:00, 20:00', '缬沙坦胶囊 QD 08:00']);
    // Valsartan (an ARB, C09C) calls for creatinine within 14 days (lab-rechecks.json), though it came after the A03.
    expect(tasks['lab-recheck']).toHaveLength(1);
    expect(tasks['lab-recheck']![0]).toMatchObject({ restriction: { period: { end: '2025-10-14' } }, input: [{ valueCoding: { system: 'http://loinc.org', code: '2160-0' } }, expect.anything()] });
    const planTasks = (await server.fhir(`CarePlan/${carePlan.id}`)).body.activity.filter((a: any) => a.reference).map((a: any) => a.reference.reference).sort();
    expect(planTasks).toEqual(Object.values(tasks).flat().map((t: any) => `Task/${t.id}`).sort());
  });

  it('an ORU with systolic 185 raises a stat alert Task within seconds', async () => {
    const sent = Date.now();
    await accepted(hl7(
      'ORU^R01^ORU_R01',
      'E2E-ORU-1',
      pid,
      'OBR|1||JC-E2E-1^HIS|85354-9^血压^LN|||20250930110000|||||||||||||||20250930110000|||F',
      'OBX|1|NM|8480-6^收缩压^LN||185|mm[Hg]^^UCUM|90-139|H|||F|||20250930110000',
      'OBX|2|NM|8462-4^舒张压^LN||96|mm[Hg]^^UCUM|60-89|H|||F|||20250930110000',
    ));
    const alert = await until('the alert', async () => (await tasksByType())['alert']?.[0]);
    expect(Date.now() - sent).toBeLessThan(5_000);
    expect(alert).toMatchObject({ status: 'requested', priority: 'stat', description: expect.stringMatching(/Systolic blood pressure ≥ 180 mmHg.*185/) });
  });

  it('three days of silence raise missed-report Tasks; a reading resolves its own', async () => {
    const moved = await moveClock({ advanceBy: 'P3D' });
    expect(moved.jobsRun).toBeGreaterThanOrEqual(1); // the sweep ran before the answer
    let tasks = await tasksByType();
    // Daily home BP (hypertension) and glucose (diabetes) expected since the discharge; nothing since.
    expect(tasks['missed-report']!.map((t: any) => t.input[0].valueCoding.code).sort()).toEqual(['2339-0', '85354-9']);
    // Silent since: blood pressure since the clinic reading of the ORU (11:00), glucose since the discharge (10:00).
    expect(Object.fromEntries(tasks['missed-report']!.map((t: any) => [t.input[0].valueCoding.code, t.input[1].valueDateTime]))).toEqual({ '85354-9': '2025-09-30T03:00:00.000Z', '2339-0': '2025-09-30T02:00:00.000Z' });
    expect(tasks['overdue']).toBeUndefined(); // nothing is past due on 3 October
    const glucose = (await server.fhir('Observation', { method: 'POST', body: {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '14743-9', display: 'Glucose by glucometer' }] }, subject: { reference: `Patient/${patient.id}` },
      effectiveDateTime: moved.now, valueQuantity: { value: 6.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    } })).body;
    const resolved = await until('the glucose missed report completed', async () => (await tasksByType())['missed-report']!.find((t: any) => t.status === 'completed'));
    expect(resolved).toMatchObject({ input: [{ valueCoding: { code: '2339-0' } }, { type: { text: 'silent since' } }], output: [{ valueReference: { reference: `Observation/${glucose.id}` } }] });
    tasks = await tasksByType();
    expect(tasks['missed-report']!.find((t: any) => t.input[0].valueCoding.code === '85354-9').status).toBe('requested');
  });

  it('a home device with its own codes: a ConceptMap makes its readings count and alert', async () => {
    const device = 'https://home-device.example/codes';
    expect((await server.fhir('ConceptMap', { method: 'POST', body: {
      resourceType: 'ConceptMap', status: 'active', url: 'https://home-device.example/fhir/ConceptMap/vitals',
      group: [{ source: device, target: 'http://loinc.org', element: [
        { code: 'BP', target: [{ code: '85354-9', equivalence: 'equivalent' }] },
        { code: 'SYS', target: [{ code: '8480-6', equivalence: 'equivalent' }] },
        { code: 'DIA', target: [{ code: '8462-4', equivalence: 'equivalent' }] },
      ] }],
    } })).status).toBe(201);
    const { now } = (await (await fetch(`${server.url}/admin/clock`)).json()) as { now: string };
    const reading = (await server.fhir('Observation', { method: 'POST', body: {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: device, code: 'BP' }] }, subject: { reference: `Patient/${patient.id}` }, effectiveDateTime: now,
      component: [
        { code: { coding: [{ system: device, code: 'SYS' }] }, valueQuantity: { value: 192, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
        { code: { coding: [{ system: device, code: 'DIA' }] }, valueQuantity: { value: 100, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      ],
    } })).body;
    // The blood-pressure missed report is resolved by it, and 192 raises a stat alert.
    const resolved = await until('the BP missed report completed', async () => (await tasksByType())['missed-report']!.find((t: any) => t.input[0].valueCoding.code === '85354-9' && t.status === 'completed'));
    expect(resolved.output[0].valueReference.reference).toBe(`Observation/${reading.id}`);
    const alert = await until('the alert', async () => (await search(`Task?focus=Observation/${reading.id}`))[0]);
    expect(alert).toMatchObject({ priority: 'stat', description: expect.stringMatching(/^Systolic blood pressure ≥ 180 mmHg.*192/) });
  });

  it('follow-ups past due become overdue; a record "not controlled" schedules the next in two weeks', async () => {
    // Saturday 11 October: the visit (due 7 October) and the first contact (due 10 October) are late.
    await moveClock({ advanceBy: 'P8D' });
    const tasks = await tasksByType();
    expect(tasks['overdue']!.map((t: any) => t.focus.reference).sort()).toEqual([`Task/${tasks['first-contact']![0].id}`, `Task/${tasks['visit']![0].id}`].sort());
    expect(tasks['visit']![0].businessStatus.text).toBe('overdue');

    const followUp = tasks['follow-up']!.find((t: any) => t.instantiatesCanonical.includes('hypertension'));
    const record = (await server.fhir('QuestionnaireResponse', { method: 'POST', body: {
      resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'https://carebridge.dev/fhir/Questionnaire/follow-up', subject: { reference: `Patient/${patient.id}` },
      basedOn: [{ reference: `CarePlan/${carePlan.id}` }],
      extension: [{ url: 'https://carebridge.dev/fhir/StructureDefinition/fulfills-task', valueReference: { reference: `Task/${followUp.id}` } }],
      item: [
        { linkId: 'sbp', answer: [{ valueInteger: 156 }] },
        { linkId: 'classification', answer: [{ valueCoding: { system: 'https://carebridge.dev/fhir/CodeSystem/follow-up-classification', code: 'not-controlled' } }] },
      ],
    } })).body;
    const next = await until('the next follow-up', async () => (await search(`Task?patient=Patient/${patient.id}&focus=QuestionnaireResponse/${record.id}`))[0]);
    // No authored date on the form: two weeks from today on the follow-up clock (11 October).
    expect(next).toMatchObject({ status: 'requested', priority: 'urgent', restriction: { period: { end: '2025-10-25' } } });
    expect((await server.fhir(`Task/${followUp.id}`)).body).toMatchObject({ status: 'completed', output: [{ valueReference: { reference: `QuestionnaireResponse/${record.id}` } }] });
  });

  it('replays create nothing twice and keep what happened since', async () => {
    const before = Object.fromEntries((await search(`Task?patient=Patient/${patient.id}&_count=200`)).map((t: any) => [t.id, t.meta.versionId]));
    const handled = async () => (await server.pool.query(`SELECT count(*)::int AS n FROM subscription_notification WHERE subscription_id = 'internal-discharge-follow-up' AND status = 'delivered'`)).rows[0].n as number;
    const runs = await handled();
    // The same A03 again: a duplicate (same MSH-10) gets the original ACK and changes nothing; the
    // same content under a new control id writes no new Encounter version, so nothing runs.
    await accepted(discharge('E2E-A03', '20250930100000'));
    await accepted(discharge('E2E-A03-RESENT', '20250930100000'));
    // A correction that does not change the plan (the disposition): the follow-up is made again.
    await accepted(discharge('E2E-A03-CORRECTED', '20250930100000', '4^转社区卫生服务机构^CN_LYFS'));
    await until('the discharge handled again', async () => ((await handled()) > runs ? true : undefined));
    // The sweep again too.
    await moveClock({ advanceBy: 'PT1M' });
    expect(await search(`CarePlan?subject=Patient/${patient.id}`)).toHaveLength(1);
    expect(await search(`RiskAssessment?subject=Patient/${patient.id}`)).toHaveLength(1); // LACE; no labs, no HOSPITAL
    const after = Object.fromEntries((await search(`Task?patient=Patient/${patient.id}&_count=200`)).map((t: any) => [t.id, t.meta.versionId]));
    expect(after).toEqual(before);
    // The completed follow-up and the overdue flags survived the re-run.
    const tasks = await tasksByType();
    expect(tasks['follow-up']!.filter((t: any) => t.status === 'completed')).toHaveLength(1);
    expect(tasks['visit']![0].businessStatus.text).toBe('overdue');
  });

  it('a withdrawn discharge order cancels its reminder', async () => {
    const [metformin] = await search(`MedicationRequest?subject=Patient/${patient.id}&code=http://www.whocc.no/atc|A10BA02`);
    const { meta: _meta, ...order } = metformin;
    expect((await server.fhir(`MedicationRequest/${metformin.id}`, { method: 'PUT', body: { ...order, status: 'cancelled' } })).status).toBe(200);
    const reminder = await until('the reminder cancelled', async () => {
      const t = (await search(`Task?focus=MedicationRequest/${metformin.id}`))[0];
      return t?.status === 'cancelled' ? t : undefined;
    });
    expect(reminder.statusReason.text).toBe('order cancelled');
    const plan = await until('the plan without it', async () => {
      const p = (await server.fhir(`CarePlan/${carePlan.id}`)).body;
      return p.activity.some((a: any) => a.reference?.reference === `Task/${reminder.id}`) ? undefined : p;
    });
    expect(plan.status).toBe('active');
  });

  it('a lab re-check ordered for the stay (ServiceRequest) becomes a Task; completing the order closes it', async () => {
    const [encounter] = await search(`Encounter?subject=Patient/${patient.id}&class=http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP`);
    const request = (await server.fhir('ServiceRequest', { method: 'POST', body: {
      resourceType: 'ServiceRequest', status: 'active', intent: 'order', priority: 'urgent',
      category: [{ coding: [{ system: 'http://snomed.info/sct', code: '108252007', display: 'Laboratory procedure' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '58410-2', display: 'CBC panel - Blood by Automated count' }], text: '血常规复查' },
      subject: { reference: `Patient/${patient.id}` }, encounter: { reference: `Encounter/${encounter.id}` },
      occurrenceTiming: { repeat: { boundsDuration: { value: 2, unit: 'wk', system: 'http://unitsofmeasure.org', code: 'wk' } } },
    } })).body;
    const task = await until('the re-check Task', async () => (await search(`Task?focus=ServiceRequest/${request.id}`))[0]);
    // Two weeks from the discharge on 30 September.
    expect(task).toMatchObject({
      status: 'requested', priority: 'urgent', code: { coding: [{ system: TASK_TYPE, code: 'lab-recheck' }], text: 'Re-check 血常规复查' },
      restriction: { period: { end: '2025-10-14' } }, basedOn: [{ reference: `CarePlan/${carePlan.id}` }, { reference: `ServiceRequest/${request.id}` }],
      input: [{ valueCoding: { system: 'http://loinc.org', code: '58410-2' } }],
    });
    const { meta: _meta, ...done } = request;
    await server.fhir(`ServiceRequest/${request.id}`, { method: 'PUT', body: { ...done, status: 'completed' } });
    const closed = await until('the re-check Task completed', async () => {
      const t = (await server.fhir(`Task/${task.id}`)).body;
      return t.status === 'completed' ? t : undefined;
    });
    expect(closed.statusReason.text).toBe('order completed');
  });

  it('a discharge older than FOLLOWUP_BACKFILL_DAYS (30) creates no plan', async () => {
    const handled = async () => (await server.pool.query(`SELECT count(*)::int AS n FROM subscription_notification WHERE subscription_id = 'internal-discharge-follow-up' AND status = 'delivered'`)).rows[0].n as number;
    const runs = await handled();
    const oldPid = pid.replace(MRN, 'ZY-E2E-OLD').replace('吴十五', '郑十六');
    await accepted(hl7('ADT^A03^ADT_A03', 'E2E-OLD-A03', 'EVN|A03|20250801100000', oldPid, pv1('I', 'ZY-E2E-OLD-V1', '20250725080000', '20250801100000'), 'DG1|1||I10^原发性高血压^I10||20250801100000|F^出院诊断^HL70052|||||||||1'));
    await until('the old discharge handled', async () => ((await handled()) > runs ? true : undefined));
    const [old] = await search('Patient?identifier=urn:oid:2.16.156.10011.1.12|ZY-E2E-OLD');
    expect(old).toBeDefined();
    expect(await search(`CarePlan?subject=Patient/${old.id}`)).toHaveLength(0);
    expect(await search(`Task?patient=Patient/${old.id}`)).toHaveLength(0);
  });

  it('a measurement added to the plan by hand: its missed report is raised, and completed by the next sweep after a reading', async () => {
    const { meta: _meta, ...plan } = (await server.fhir(`CarePlan/${carePlan.id}`)).body;
    const spo2 = { system: 'http://loinc.org', code: '59408-5', display: 'Oxygen saturation by pulse oximetry' };
    plan.activity.push({ detail: { kind: 'ServiceRequest', code: { coding: [spo2] }, status: 'scheduled', description: 'SpO2 every day' } });
    expect((await server.fhir(`CarePlan/${carePlan.id}`, { method: 'PUT', body: plan })).status).toBe(200);
    await moveClock({ advanceBy: 'PT1H' });
    const missed = (await tasksByType())['missed-report']!.find((t: any) => t.input[0].valueCoding.code === '59408-5');
    expect(missed.status).toBe('requested');
    const { now } = (await (await fetch(`${server.url}/admin/clock`)).json()) as { now: string };
    const reading = (await server.fhir('Observation', { method: 'POST', body: {
      resourceType: 'Observation', status: 'final', code: { coding: [spo2] }, subject: { reference: `Patient/${patient.id}` }, effectiveDateTime: now,
      valueQuantity: { value: 97, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    } })).body;
    // No protocol monitors SpO2, so the reading is not matched on arrival; the next sweep completes the Task.
    await moveClock({ advanceBy: 'PT1H' });
    const done = (await server.fhir(`Task/${missed.id}`)).body;
    expect(done).toMatchObject({ status: 'completed', output: [{ valueReference: { reference: `Observation/${reading.id}` } }] });
  });
});
