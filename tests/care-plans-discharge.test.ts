// On discharge, the follow-up (issue 6, first slice): an ADT^A03 over MLLP finishes the inpatient
// Encounter; the engine (an internal subscriber) writes a LACE RiskAssessment with its components,
// a CarePlan from the transitional-care protocol, and its Tasks with due dates — and replaying the
// discharge changes nothing.
import { describe, expect, it } from 'vitest';
import { fixture, sendTo } from './helpers/mllp.ts';
import { useTestServer } from './helpers/server.ts';
import { until as waitUntil } from './helpers/wait.ts';

// The fixtures' discharges are from 2024: followed up however old they are.
const server = useTestServer({ SUBSCRIPTION_ENGINE: 'on', SUBSCRIPTION_POLL_MS: '50', FOLLOWUP_BACKFILL_DAYS: '36500' });

const until = <T>(what: string, check: () => Promise<T | undefined>) => waitUntil(what, check, 15_000, 50);

const search = async (path: string) => ((await server.fhir(path)).body.entry ?? []).map((e: any) => e.resource).filter((r: any) => r.resourceType !== 'OperationOutcome');

describe('discharge follow-up', () => {
  it('generates risk, care plan and tasks once per episode', async () => {
    await sendTo(server.mllpPort, fixture('syn_cn_ADT_A01_utf8.hl7'));
    // Labs during the stay (haemoglobin in g/L, converted; sodium): the HOSPITAL score can be computed.
    await sendTo(server.mllpPort, [
      'MSH|^~\\&|LIS|XYZRMYY|CB|CB|20240321080000||ORU^R01^ORU_R01|LAB-HOSP-1|P|2.5',
      'PID|1||ZY2024001234^^^&2.16.156.10011.1.12&ISO^MR||张三',
      'OBR|1||JY-HOSP-1^LIS|CBC^血常规^L|||20240321070000|||||||||||||||20240321080000|||F',
      'OBX|1|NM|718-7^血红蛋白^LN||110|g/L^^UCUM|130-175|↓|||F|||20240321070000',
      'OBX|2|NM|2951-2^钠^LN||132|mmol/L^^UCUM|137-145|↓|||F|||20240321070000',
    ].join('\r'));
    // Discharge medication during the stay (RDE with the visit in PV1), applied before the A03 (same patient, arrival order).
    await sendTo(server.mllpPort, fixture('syn_cn_RDE_O11_utf8.hl7'));
    await sendTo(server.mllpPort, fixture('syn_cn_ADT_A03_gbk.hl7'));
    // These samples ask for enhanced mode (MSH-15 AL): the CA means stored; applying follows.
    const patient = await until('the Patient', async () => (await search('Patient?identifier=urn:oid:2.16.156.10011.1.12|ZY2024001234'))[0]);
    const carePlan = await until('the CarePlan', async () => (await search(`CarePlan?subject=Patient/${patient.id}`))[0]);
    // Transitional care for every discharge; the hypertension protocol because of I10.x00.
    expect(carePlan).toMatchObject({
      status: 'active',
      intent: 'plan',
      instantiatesCanonical: ['https://carebridge.dev/fhir/PlanDefinition/transitional-care|1.0.0', 'https://carebridge.dev/fhir/PlanDefinition/hypertension|1.0.0'],
      period: { start: '2024-03-22T10:00:00+08:00' },
    });
    // Home blood-pressure monitoring is a standing activity (the patient is expected to report).
    expect(carePlan.activity.filter((a: any) => a.detail)).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ kind: 'ServiceRequest', status: 'scheduled', code: expect.objectContaining({ coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel' }] }) }) }),
    ]);
    const risks = await search(`RiskAssessment?subject=Patient/${patient.id}`);
    const risk = risks.find((r: any) => r.method.coding[0].code === 'LACE');
    const hospital = risks.find((r: any) => r.method.coding[0].code === 'HOSPITAL');
    // HOSPITAL: Hb 11.0 g/dL < 12 (1), sodium 132 < 135 (1), stay ≥ 5 days (2); nothing else: 4, low.
    expect(hospital.extension[0].valueDecimal).toBe(4);
    expect(hospital.prediction[0].qualitativeRisk).toEqual({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/risk-probability', code: 'low' }], text: 'low' });
    expect(carePlan.supportingInfo).toHaveLength(2);
    // Stay 15–22 March = 8 days (L 5); routine admission (A 0); I10 is no Charlson condition (C 0); no ED visits (E 0).
    expect(risk.extension).toEqual([{ url: 'https://carebridge.dev/fhir/StructureDefinition/risk-score', valueDecimal: 5 }]);
    expect(risk.prediction[0].qualitativeRisk.coding[0].code).toBe('moderate');
    expect(risk.method.coding[0].code).toBe('LACE');
    const components = await search(`Observation?subject=Patient/${patient.id}&code=https://carebridge.dev/fhir/CodeSystem/risk-component|LACE-L,https://carebridge.dev/fhir/CodeSystem/risk-component|LACE-A,https://carebridge.dev/fhir/CodeSystem/risk-component|LACE-C,https://carebridge.dev/fhir/CodeSystem/risk-component|LACE-E`);
    expect(Object.fromEntries(components.map((o: any) => [o.code.coding[0].code, o.valueInteger]))).toEqual({ 'LACE-L': 5, 'LACE-A': 0, 'LACE-C': 0, 'LACE-E': 0 });
    const tasks = await search(`Task?patient=Patient/${patient.id}&_sort=_id`);
    expect(tasks).toHaveLength(4);
    const byCode = Object.fromEntries(tasks.map((t: any) => [t.code.coding[0].code, t]));
    // A reminder per discharge order, with its timing (BID at 08:00 and 20:00) for apps to schedule.
    expect(byCode['medication-reminder']).toMatchObject({
      description: '阿莫西林胶囊 BID 每日两次 08:00, 20:00',
      restriction: { period: { start: '2024-03-22T10:00:00+08:00', end: '2024-03-22T20:00:00+08:00' } },
      input: [{ type: { text: 'timing' }, valueTiming: { repeat: { frequency: 2, period: 1, periodUnit: 'd', timeOfDay: ['08:00:00', '20:00:00'] } } }, { type: { text: 'instruction' }, valueString: '饭后服用' }],
    });
    expect(byCode['follow-up']).toMatchObject({ instantiatesCanonical: 'https://carebridge.dev/fhir/PlanDefinition/hypertension|1.0.0', restriction: { period: { end: '2024-04-05' } } });
    // Discharged Friday 22 March 2024: contact within 2 business days → Tuesday 26th; visit within 14 days → 5 April.
    expect(byCode['first-contact']).toMatchObject({ status: 'requested', priority: 'routine', restriction: { period: { end: '2024-03-26' } }, basedOn: [{ reference: `CarePlan/${carePlan.id}` }] });
    expect(byCode['visit'].restriction.period.end).toBe('2024-04-05');
    expect(carePlan.activity.filter((a: any) => a.reference).map((a: any) => a.reference.reference).sort()).toEqual(tasks.map((t: any) => `Task/${t.id}`).sort());

    // A new version of the finished Encounter (here an extra identifier) runs the handler again:
    // the same follow-up, nothing new written.
    const encounter = (await search(`Encounter?subject=Patient/${patient.id}`))[0];
    const events = async () => (await server.pool.query(`SELECT count(*)::int AS n FROM subscription_notification WHERE subscription_id = 'internal-discharge-follow-up' AND status = 'delivered'`)).rows[0].n as number;
    const before = await events();
    expect((await server.fhir(`Encounter/${encounter.id}`, { method: 'PUT', body: { ...encounter, meta: undefined, identifier: [...encounter.identifier, { system: 'urn:test', value: 'again' }] } })).status).toBe(200);
    await until('the handler run again', async () => ((await events()) > before ? true : undefined));
    expect(await search(`CarePlan?subject=Patient/${patient.id}`)).toHaveLength(1);
    expect((await search(`Task?patient=Patient/${patient.id}`)).map((t: any) => t.meta.versionId)).toEqual(['1', '1', '1', '1']);
    expect((await server.fhir(`RiskAssessment/${risk.id}`)).body.meta.versionId).toBe('1');
    expect((await server.fhir(`RiskAssessment/${hospital.id}`)).body.meta.versionId).toBe('1');
  });

  it('an urgent home value creates a stat alert Task within seconds, once', async () => {
    const patient = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ text: '卫十四' }] } })).body;
    const bp = (systolic: number) => ({
      resourceType: 'Observation', status: 'final', category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] }, subject: { reference: `Patient/${patient.id}` }, effectiveDateTime: '2024-04-01T08:00:00+08:00',
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: systolic, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 95, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      ],
    });
    await server.fhir('Observation', { method: 'POST', body: bp(150) });
    const urgent = (await server.fhir('Observation', { method: 'POST', body: bp(186) })).body;
    const started = Date.now();
    const alert = await until('the alert task', async () => (await search(`Task?patient=Patient/${patient.id}&code=https://carebridge.dev/fhir/CodeSystem/task-type|alert`))[0]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(alert).toMatchObject({ status: 'requested', priority: 'stat', focus: { reference: `Observation/${urgent.id}` }, description: expect.stringMatching(/Systolic blood pressure ≥ 180 mmHg.*186 mm\[Hg\]/) });
    await new Promise((r) => setTimeout(r, 300));
    expect(await search(`Task?patient=Patient/${patient.id}`)).toHaveLength(1); // the 150 reading raised nothing

    // Heart failure: more than 2 kg gained within 3 days.
    const weight = (kg: number, daysAgo: number) => ({
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: `Patient/${patient.id}` },
      effectiveDateTime: new Date(Date.now() - daysAgo * 86_400_000).toISOString(), valueQuantity: { value: kg, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
    });
    await server.fhir('Observation', { method: 'POST', body: weight(80, 2) });
    await server.fhir('Observation', { method: 'POST', body: weight(81.5, 1) });
    const heavier = (await server.fhir('Observation', { method: 'POST', body: weight(82.6, 0) })).body;
    const gain = await until('the weight alert', async () => (await search(`Task?patient=Patient/${patient.id}&focus=Observation/${heavier.id}`))[0]);
    expect(gain).toMatchObject({ priority: 'urgent', description: 'Weight gain > 2 kg in 3 days (heart failure): 2.6 kg' });
    expect(await search(`Task?patient=Patient/${patient.id}`)).toHaveLength(2); // 81.5 (+1.5 kg) raised nothing

    // Heart rate above 100 three times within 24 hours (one reading alone raises nothing).
    const pulse = (rate: number, hoursAgo: number) => ({
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: `Patient/${patient.id}` },
      effectiveDateTime: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(), valueQuantity: { value: rate, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    });
    await server.fhir('Observation', { method: 'POST', body: pulse(108, 10) });
    await server.fhir('Observation', { method: 'POST', body: pulse(112, 5) });
    const third = (await server.fhir('Observation', { method: 'POST', body: pulse(110, 0) })).body;
    const rateAlert = await until('the heart-rate alert', async () => (await search(`Task?patient=Patient/${patient.id}&focus=Observation/${third.id}`))[0]);
    expect(rateAlert).toMatchObject({ priority: 'urgent', description: 'Heart rate persistently > 100/min (3 readings in 24 h): 110 /min' });
    expect(await search(`Task?patient=Patient/${patient.id}`)).toHaveLength(3);
  });

  it('the scheduled sweep raises missed reports and overdue follow-ups once; a reading resolves the missed report', async () => {
    const [patient] = await search('Patient?identifier=urn:oid:2.16.156.10011.1.12|ZY2024001234');
    const runSweep = async () => {
      const done = async () => (await server.pool.query(`SELECT run_at > now() AS later FROM scheduled_job WHERE key = 'follow-up-sweep'`)).rows[0]?.later === true;
      await server.pool.query(`UPDATE scheduled_job SET run_at = now() WHERE key = 'follow-up-sweep'`);
      await until('the sweep', async () => ((await done()) ? true : undefined));
    };
    await runSweep();
    const byType = async () => {
      const tasks = await search(`Task?patient=Patient/${patient.id}&_count=100`);
      const group: Record<string, any[]> = {};
      for (const t of tasks) (group[t.code.coding[0].code] ??= []).push(t);
      return group;
    };
    let tasks = await byType();
    // The plan (discharge 22 March 2024) expects daily home BP: nothing came, so a missed report.
    expect(tasks['missed-report']).toHaveLength(1);
    expect(tasks['missed-report']![0]).toMatchObject({ status: 'requested', input: [{ valueCoding: { system: 'http://loinc.org', code: '85354-9' } }, { type: { text: 'silent since' }, valueDateTime: expect.any(String) }] });
    // All three follow-up tasks are past due: each flagged and shadowed by an overdue task.
    expect(tasks['overdue']).toHaveLength(3);
    for (const code of ['first-contact', 'visit', 'follow-up']) expect(tasks[code]![0].businessStatus.text).toBe('overdue');

    await runSweep(); // again: nothing new
    const again = await byType();
    expect(again['overdue']!.map((t: any) => t.meta.versionId)).toEqual(['1', '1', '1']);
    expect(again['missed-report']![0].meta.versionId).toBe('1');

    // A home reading arrives: the missed report is completed with it.
    const reading = (await server.fhir('Observation', { method: 'POST', body: {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] }, subject: { reference: `Patient/${patient.id}` }, effectiveDateTime: new Date().toISOString(),
      component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 132, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' } }],
    } })).body;
    const completed = await until('the missed report completed', async () => {
      const t = (await byType())['missed-report']![0];
      return t.status === 'completed' ? t : undefined;
    });
    expect(completed.output).toEqual([{ type: { text: 'report' }, valueReference: { reference: `Observation/${reading.id}` } }]);
    await runSweep(); // the reading is recent: no new missed report
    tasks = await byType();
    expect(tasks['missed-report']).toHaveLength(1);
    expect(tasks['missed-report']![0].status).toBe('completed');

    // Adherence: one 30-day fill of an ACE inhibitor 40 days ago → 30 of 41 days covered.
    const handedOver = new Date(Date.now() - 40 * 86_400_000).toISOString().slice(0, 10);
    expect((await server.fhir('MedicationDispense', { method: 'POST', body: {
      resourceType: 'MedicationDispense', status: 'completed', subject: { reference: `Patient/${patient.id}` }, whenHandedOver: handedOver,
      medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code: 'C09AA05', display: 'ramipril' }] }, daysSupply: { value: 30, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
    } })).status).toBe(201);
    await runSweep();
    const [pdc] = await search(`Observation?subject=Patient/${patient.id}&code=https://carebridge.dev/fhir/CodeSystem/adherence|PDC`);
    expect(pdc.valueQuantity).toEqual({ value: 73.2, unit: '%', system: 'http://unitsofmeasure.org', code: '%' });
    expect(pdc.component[0].valueCodeableConcept.coding[0]).toMatchObject({ system: 'http://www.whocc.no/atc', code: 'C09AA' });
    tasks = await byType();
    expect(tasks['adherence']).toHaveLength(1);
    expect(tasks['adherence']![0].input[0].valueCoding.code).toBe('C09AA');
  });

  it('recording a follow-up completes its Task and schedules the next one from the classification or the stated date', async () => {
    const [patient] = await search('Patient?identifier=urn:oid:2.16.156.10011.1.12|ZY2024001234');
    const questionnaire = (await server.fhir('Questionnaire/follow-up')).body;
    expect(questionnaire.title).toMatch(/随访/);
    const [carePlan] = await search(`CarePlan?subject=Patient/${patient.id}`);
    const tasks = await search(`Task?patient=Patient/${patient.id}&code=https://carebridge.dev/fhir/CodeSystem/task-type|follow-up&status=requested`);
    const task = tasks.find((t: any) => t.instantiatesCanonical?.startsWith('https://carebridge.dev/fhir/PlanDefinition/hypertension'));
    const record = (classification: string, nextVisit?: string) => ({
      resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'https://carebridge.dev/fhir/Questionnaire/follow-up', subject: { reference: `Patient/${patient.id}` },
      basedOn: [{ reference: `CarePlan/${carePlan.id}` }], authored: '2024-04-03T10:00:00+08:00',
      extension: [{ url: 'https://carebridge.dev/fhir/StructureDefinition/fulfills-task', valueReference: { reference: `Task/${task.id}` } }],
      item: [
        { linkId: 'sbp', answer: [{ valueInteger: 152 }] },
        { linkId: 'classification', answer: [{ valueCoding: { system: 'https://carebridge.dev/fhir/CodeSystem/follow-up-classification', code: classification } }] },
        ...(nextVisit ? [{ linkId: 'next-visit', answer: [{ valueDate: nextVisit }] }] : []),
      ],
    });
    const response = (await server.fhir('QuestionnaireResponse', { method: 'POST', body: record('not-controlled') })).body;
    const completed = await until('the task completed', async () => {
      const t = (await server.fhir(`Task/${task.id}`)).body;
      return t.status === 'completed' ? t : undefined;
    });
    expect(completed.output).toEqual([{ type: { text: 'follow-up record' }, valueReference: { reference: `QuestionnaireResponse/${response.id}` } }]);
    const next = await until('the next follow-up', async () => (await search(`Task?patient=Patient/${patient.id}&focus=QuestionnaireResponse/${response.id}`))[0]);
    // Not controlled: within 2 weeks of 3 April.
    expect(next).toMatchObject({ status: 'requested', priority: 'urgent', restriction: { period: { end: '2024-04-17' } }, basedOn: [{ reference: `CarePlan/${carePlan.id}` }], code: { coding: [{ code: 'follow-up' }] } });

    const controlled = (await server.fhir('QuestionnaireResponse', { method: 'POST', body: record('controlled') })).body;
    const routine = await until('the next follow-up (controlled)', async () => (await search(`Task?patient=Patient/${patient.id}&focus=QuestionnaireResponse/${controlled.id}`))[0]);
    expect(routine).toMatchObject({ priority: 'routine', restriction: { period: { end: '2024-07-02' } } }); // 90 days
    const stated = (await server.fhir('QuestionnaireResponse', { method: 'POST', body: record('controlled', '2024-05-01') })).body;
    const dated = await until('the next follow-up (stated date)', async () => (await search(`Task?patient=Patient/${patient.id}&focus=QuestionnaireResponse/${stated.id}`))[0]);
    expect(dated.restriction.period.end).toBe('2024-05-01');

    // A home reading that is not controlled (148/92 ≥ 135/85) on 10 April brings later follow-ups forward to 24 April.
    await server.fhir('Observation', { method: 'POST', body: {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] }, subject: { reference: `Patient/${patient.id}` }, effectiveDateTime: '2024-04-10T08:00:00+08:00',
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 148, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 92, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' } },
      ],
    } });
    const moved = await until('the follow-ups brought forward', async () => {
      const t = (await server.fhir(`Task/${routine.id}`)).body;
      return t.restriction.period.end === '2024-04-24' ? t : undefined;
    });
    expect(moved).toMatchObject({ priority: 'urgent', note: [{ text: expect.stringMatching(/^Brought forward to 2024-04-24: blood pressure 148\/92 mmHg not controlled \(home target < 135\/85\)/) }] });
    expect((await server.fhir(`Task/${dated.id}`)).body.restriction.period.end).toBe('2024-04-24');
    expect((await server.fhir(`Task/${next.id}`)).body.restriction.period.end).toBe('2024-04-17'); // already sooner: unchanged
  });

  it('readings that arrive together are checked in order: the first ends a missed report, the next sees it ended', async () => {
    // Several readings of one patient in one batch share one read of the patient's plans and open
    // tasks (observation-follow-up.ts); what a reading's check writes must be seen by the next.
    const [patient] = await search('Patient?identifier=urn:oid:2.16.156.10011.1.12|ZY2024001234');
    const [carePlan] = await search(`CarePlan?subject=Patient/${patient.id}&status=active`);
    const bp = { system: 'http://loinc.org', code: '85354-9' };
    const missed = (await server.fhir('Task', { method: 'POST', body: {
      resourceType: 'Task', status: 'requested', intent: 'order', priority: 'routine', code: { coding: [{ system: 'https://carebridge.dev/fhir/CodeSystem/task-type', code: 'missed-report' }] },
      for: { reference: `Patient/${patient.id}` }, basedOn: [{ reference: `CarePlan/${carePlan.id}` }],
      input: [{ type: { text: 'expected report' }, valueCoding: bp }, { type: { text: 'silent since' }, valueDateTime: '2024-05-01T00:00:00Z' }],
    } })).body;
    const reading = (day: string, sbp: number) => ({
      resource: { resourceType: 'Observation', status: 'final', code: { coding: [bp] }, subject: { reference: `Patient/${patient.id}` }, effectiveDateTime: `2024-05-${day}T08:00:00+08:00`, component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: sbp, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' } }] },
      request: { method: 'POST', url: 'Observation' },
    });
    const written = (await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: [reading('05', 128), reading('06', 126), reading('07', 131)] } })).body;
    const first = written.entry[0].response.location.split('/')[1];
    const completed = await until('the missed report completed', async () => {
      const t = (await server.fhir(`Task/${missed.id}`)).body;
      return t.status === 'completed' ? t : undefined;
    });
    // Give the later readings' checks time to run: they must not complete it again.
    await until('every reading checked', async () => ((await server.pool.query(`SELECT count(*)::int AS n FROM subscription_notification WHERE subscription_id = 'internal-observation-follow-up' AND status = 'pending'`)).rows[0].n === 0 ? true : undefined));
    const after = (await server.fhir(`Task/${missed.id}`)).body;
    expect(after.meta.versionId).toBe(completed.meta.versionId);
    expect(after.meta.versionId).toBe('2');
    expect(after.output).toEqual([{ type: { text: 'report' }, valueReference: { reference: `Observation/${first}` } }]);
  });

  it('answers the population questions for a practitioner: $follow-up-indicators', async () => {
    const [a] = await search('Patient?identifier=urn:oid:2.16.156.10011.1.12|ZY2024001234');
    await server.fhir('Practitioner/gp-1', { method: 'PUT', body: { resourceType: 'Practitioner', id: 'gp-1', name: [{ text: '王医生' }] } });
    const { meta: _meta, ...patientA } = (await server.fhir(`Patient/${a.id}`)).body;
    expect((await server.fhir(`Patient/${a.id}`, { method: 'PUT', body: { ...patientA, generalPractitioner: [{ reference: 'Practitioner/gp-1' }], managingOrganization: { reference: 'Organization/clinic-1' } } })).status).toBe(200);
    // B is the practitioner's through a care team; C is someone else's.
    const b = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ text: '钱十一' }] } })).body;
    const c = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ text: '孙十二' }], generalPractitioner: [{ reference: 'Practitioner/gp-2' }] } })).body;
    await server.fhir('CareTeam', { method: 'POST', body: { resourceType: 'CareTeam', status: 'active', subject: { reference: `Patient/${b.id}` }, participant: [{ member: { reference: 'Practitioner/gp-1' } }] } });
    const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();
    const observation = (patient: string, code: string, when: string, value: Record<string, unknown>) =>
      server.fhir('Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${patient}` }, effectiveDateTime: when, ...value } });
    const bp = (sbp: number, dbp: number) => ({ component: [
      { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: sbp, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
      { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: dbp, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } },
    ] });
    const percent = (value: number) => ({ valueQuantity: { value, unit: '%', system: 'http://unitsofmeasure.org', code: '%' } });
    // A: HbA1c 6.6 % now (at target), BP 132/82 (controlled), four follow-ups in the year (per standard).
    await observation(a.id, '4548-4', daysAgo(1), percent(6.6));
    await observation(a.id, '85354-9', daysAgo(2), bp(132, 82));
    for (let i = 0; i < 4; i++) {
      await server.fhir('QuestionnaireResponse', { method: 'POST', body: {
        resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'https://carebridge.dev/fhir/Questionnaire/follow-up', subject: { reference: `Patient/${a.id}` }, authored: daysAgo((4 - i) * 30),
        item: [{ linkId: 'classification', answer: [{ valueCoding: { system: 'https://carebridge.dev/fhir/CodeSystem/follow-up-classification', code: 'controlled' } }] }],
      } });
    }
    // B: 60 mmol/mol (IFCC) = 7.6 % a month ago — tested, not at target; an older 6.0 % does not count. BP 150/95.
    await observation(b.id, '4548-4', daysAgo(120), percent(6.0));
    await observation(b.id, '59261-8', daysAgo(30), { valueQuantity: { value: 60, unit: 'mmol/mol', system: 'http://unitsofmeasure.org', code: 'mmol/mol' } });
    await observation(b.id, '85354-9', daysAgo(3), bp(150, 95));
    await observation(c.id, '4548-4', daysAgo(1), percent(6.1));
    const indicators = async (query: string) => {
      const reply = await server.fhir(`$follow-up-indicators?${query}`);
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      return Object.fromEntries(reply.body.parameter.map((p: any) => [p.name, p.valueInteger ?? p.valueDecimal]));
    };
    expect(await indicators('practitioner=Practitioner/gp-1')).toEqual({
      managed: 2, 'hba1c-tested-90d': 2, 'hba1c-at-target': 1, 'bp-controlled': 1, 'managed-per-standard': 1,
      'hba1c-tested-90d-rate': 1, 'hba1c-at-target-rate': 0.5, 'bp-controlled-rate': 0.5, 'managed-per-standard-rate': 0.5,
    });
    // Narrowed to an organisation, or to the patients under the hypertension protocol: A only.
    expect(await indicators('practitioner=Practitioner/gp-1&organization=Organization/clinic-1')).toMatchObject({ managed: 1, 'hba1c-at-target': 1, 'bp-controlled': 1 });
    expect(await indicators('practitioner=Practitioner/gp-1&protocol=hypertension')).toMatchObject({ managed: 1, 'managed-per-standard': 1 });
    expect(await indicators('practitioner=Practitioner/gp-2')).toMatchObject({ managed: 1, 'hba1c-at-target': 1, 'bp-controlled': 0 });
    expect(await indicators('practitioner=Practitioner/nobody')).toMatchObject({ managed: 0, 'managed-per-standard-rate': 0 });
    // POST with Parameters works the same.
    const posted = await server.fhir('$follow-up-indicators', { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'practitioner', valueReference: { reference: 'Practitioner/gp-1' } }] } });
    expect(posted.body.parameter[0]).toEqual({ name: 'managed', valueInteger: 2 });
    for (const bad of ['', 'practitioner=gp-1', 'practitioner=Practitioner/gp-1&practitioner=Practitioner/gp-2', 'practitioner=Practitioner/gp-1&organization=clinic']) {
      const reply = await server.fhir(`$follow-up-indicators?${bad}`);
      expect(reply.status, bad).toBe(400);
      expect(reply.body.issue[0].details.coding[0].code).toBe('CB_ERR_INVALID_OPERATION_PARAMETER');
    }
    const capabilities = (await server.fhir('metadata')).body.rest[0];
    expect(capabilities.operation.map((o: any) => o.name)).toContain('follow-up-indicators');
    expect(capabilities.resource.find((r: any) => r.type === 'Patient').operation.map((o: any) => o.name)).toContain('adherence');
  });

  it('reports adherence per drug class: Patient/{id}/$adherence', async () => {
    const patient = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ text: '周十三' }] } })).body;
    const dispense = (code: string, display: string, whenHandedOver: string, days: number) =>
      server.fhir('MedicationDispense', { method: 'POST', body: {
        resourceType: 'MedicationDispense', status: 'completed', subject: { reference: `Patient/${patient.id}` }, whenHandedOver,
        medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code, display }] }, daysSupply: { value: days, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' },
      } });
    // Amlodipine (C08CA): 30 days on 1 Jan and 30 days on 31 Jan → Jan–Feb fully covered (60/60).
    await dispense('C08CA01', 'amlodipine', '2024-01-01', 30);
    await dispense('C08CA01', 'amlodipine', '2024-01-31', 30);
    // Metformin (A10BA): 30 days on 1 Jan only → 30 of 60 days.
    await dispense('A10BA02', 'metformin', '2024-01-01', 30);
    const reply = await server.fhir(`Patient/${patient.id}/$adherence?start=2024-01-01&end=2024-02-29`);
    expect(reply.status).toBe(200);
    const byClass = Object.fromEntries(reply.body.parameter.filter((p: any) => p.name === 'drugClass').map((p: any) => [p.part.find((x: any) => x.name === 'class').valueCoding.code, Object.fromEntries(p.part.map((x: any) => [x.name, x.valueDecimal ?? x.valueBoolean ?? x.valueInteger ?? x.valueDate ?? x.valueCode ?? x.valueCoding]))]));
    expect(byClass['C08CA']).toMatchObject({ pdc: 1, adherent: true, coveredDays: 60, periodDays: 60, source: 'MedicationDispense' });
    expect(byClass['A10BA']).toMatchObject({ pdc: 0.5, adherent: false, coveredDays: 30, periodDays: 60 });
    expect(reply.body.parameter.slice(0, 2)).toEqual([{ name: 'start', valueDate: '2024-01-01' }, { name: 'end', valueDate: '2024-02-29' }]);
    // A shorter period: February only — amlodipine's second fill covers 31 Jan – 29 Feb; metformin's supply ended on 30 Jan.
    const february = await server.fhir(`Patient/${patient.id}/$adherence?start=2024-02-01&end=2024-02-29`);
    const classes = february.body.parameter.filter((p: any) => p.name === 'drugClass');
    expect(classes).toHaveLength(1);
    expect(classes[0].part).toEqual(expect.arrayContaining([{ name: 'pdc', valueDecimal: 1 }, { name: 'adherent', valueBoolean: true }]));
    // Bad input: clear errors, no 500.
    expect((await server.fhir(`Patient/${patient.id}/$adherence?start=2024-03-01&end=2024-02-01`)).status).toBe(400);
    expect((await server.fhir(`Patient/${patient.id}/$adherence?start=yesterday`)).body.issue[0].expression).toEqual(['start']);
    expect((await server.fhir('Patient/no-such-patient/$adherence')).status).toBe(404);
  });

  it('threshold overrides per protocol (PlanDefinition) and per patient (CarePlan) apply to the next reading', async () => {
    const [patient] = await search('Patient?identifier=urn:oid:2.16.156.10011.1.12|ZY2024001234');
    const threshold = (rule: string, atLeast: number) => ({ url: 'https://carebridge.dev/fhir/StructureDefinition/threshold', extension: [{ url: 'rule', valueString: rule }, { url: 'atLeast', valueDecimal: atLeast }] });
    const [carePlan] = await search(`CarePlan?subject=Patient/${patient.id}`);
    expect((await server.fhir(`CarePlan/${carePlan.id}`, { method: 'PUT', body: { ...carePlan, meta: undefined, extension: [threshold('sbp-urgent', 170)] } })).status).toBe(200);
    const protocol = (await server.fhir('PlanDefinition/hypertension')).body;
    expect((await server.fhir('PlanDefinition/hypertension', { method: 'PUT', body: { ...protocol, meta: undefined, extension: [...protocol.extension, threshold('dbp-urgent', 100)] } })).status).toBe(200);
    const bp = (sbp: number, dbp: number) => ({
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] }, subject: { reference: `Patient/${patient.id}` }, encounter: { reference: 'Encounter/clinic' }, effectiveDateTime: new Date().toISOString(),
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: sbp, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' } },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: dbp, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' } },
      ],
    });
    const reading = (await server.fhir('Observation', { method: 'POST', body: bp(172, 104) })).body; // below the defaults 180/110
    const alerts = await until('the alerts', async () => {
      const found = await search(`Task?patient=Patient/${patient.id}&focus=Observation/${reading.id}&code=https://carebridge.dev/fhir/CodeSystem/task-type|alert`);
      return found.length === 2 ? found : undefined;
    });
    expect(alerts.map((t: any) => t.input[0].valueString.split(' ')[0]).sort()).toEqual(['dbp-urgent', 'sbp-urgent']);
  });
  it('discharge medication that needs lab monitoring gets a re-check Task (ATC rule → LOINC test, due date)', async () => {
    const patient = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ text: '李四' }], identifier: [{ system: 'urn:test:mrn', value: 'LAB-RECHECK-1' }] } })).body;
    const encounter = (await server.fhir('Encounter', { method: 'POST', body: { resourceType: 'Encounter', status: 'in-progress', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: { reference: `Patient/${patient.id}` }, period: { start: '2025-06-02T09:00:00+08:00' } } })).body;
    const order = (code: string, display: string) => ({
      resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: `Patient/${patient.id}` }, encounter: { reference: `Encounter/${encounter.id}` },
      medicationCodeableConcept: { coding: [{ system: 'http://www.whocc.no/atc', code, display }], text: display },
    });
    const warfarin = (await server.fhir('MedicationRequest', { method: 'POST', body: order('B01AA03', '华法林钠片') })).body;
    const ramipril = (await server.fhir('MedicationRequest', { method: 'POST', body: order('C09AA05', '雷米普利片') })).body;
    await server.fhir('MedicationRequest', { method: 'POST', body: order('A02BC01', '奥美拉唑肠溶胶囊') }); // no monitoring rule
    expect((await server.fhir(`Encounter/${encounter.id}`, { method: 'PUT', body: { ...encounter, meta: undefined, status: 'finished', period: { start: '2025-06-02T09:00:00+08:00', end: '2025-06-06T10:00:00+08:00' } } })).status).toBe(200);
    const rechecks = await until('the re-check Tasks', async () => {
      const found = await search(`Task?patient=Patient/${patient.id}&code=https://carebridge.dev/fhir/CodeSystem/task-type|lab-recheck`);
      return found.length === 2 ? found : undefined;
    });
    const byFocus = Object.fromEntries(rechecks.map((t: any) => [t.focus.reference, t]));
    // Warfarin: INR within 5 days of the discharge on 6 June; ramipril (ACE inhibitor): creatinine within 14 days.
    expect(byFocus[`MedicationRequest/${warfarin.id}`]).toMatchObject({ status: 'requested', restriction: { period: { end: '2025-06-11' } }, input: [{ valueCoding: { system: 'http://loinc.org', code: '6301-6' } }, { valueString: expect.stringMatching(/^warfarin-inr /) }] });
    expect(byFocus[`MedicationRequest/${ramipril.id}`]).toMatchObject({ restriction: { period: { end: '2025-06-20' } }, input: [{ valueCoding: { system: 'http://loinc.org', code: '2160-0' } }, expect.anything()] });
    const [carePlan] = await search(`CarePlan?subject=Patient/${patient.id}`);
    expect(carePlan.activity.map((a: any) => a.reference?.reference)).toEqual(expect.arrayContaining(rechecks.map((t: any) => `Task/${t.id}`)));
  });

  it('the follow-up clock cannot be moved without CAREBRIDGE_TEST_CLOCK=1', async () => {
    const reply = await fetch(`${server.url}/admin/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceBy: 'P3D' }) });
    expect(reply.status).toBe(403);
    expect(((await reply.json()) as any).issue[0].details.coding[0].code).toBe('CB_ERR_TEST_CLOCK_DISABLED');
    const clock = (await (await fetch(`${server.url}/admin/clock`)).json()) as any;
    expect(clock.testClock).toBe(false);
    expect(Math.abs(Date.parse(clock.now) - Date.now())).toBeLessThan(5_000);
  });
});
