// FHIR R4 search: chained parameters (http://hl7.org/fhir/R4/search.html#chaining), reverse chaining
// with _has (http://hl7.org/fhir/R4/search.html#has), composite parameters (#composite), the token
// modifiers :text and :of-type (#token, #modifiers), the reference modifier :identifier (#reference),
// the common parameters _tag, _profile and _security (#tag, #profile, #security), and unknown or
// unsupported parameters under lenient and strict handling (#errors).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import { matchIds, q, sorted } from './helpers/bundles.ts';
import type { Json } from './helpers/bundles.ts';

const server = useTestServer();

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

async function create(resource: Json): Promise<string> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const outcomes = (bundle: Json): Json[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === 'outcome').map((e: Json) => e.resource);

async function searchIds(path: string): Promise<string[]> {
  const res = await server.fhir(path);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  expect(res.body.resourceType).toBe('Bundle');
  expect(res.body.type).toBe('searchset');
  expect(outcomes(res.body), `${path} reported ignored parameters`).toEqual([]);
  return matchIds(res.body).sort();
}

const obs = (code: Json, extra: Json = {}): Json => ({ resourceType: 'Observation', status: 'final', code, ...extra });
const loinc = (code: string, display?: string): Json => ({ coding: [{ system: LOINC, code, ...(display ? { display } : {}) }] });
const mmHg = (value: number): Json => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });

describe('chained parameters', () => {
  let drWang: string, drLi: string;
  let zhang: string, smith: string, gone: string;
  let clinicZhang: string;
  let obsZhang1: string, obsZhang2: string, obsSmith: string, obsClinic: string, obsGone: string, obsNoSubject: string;
  const CHAIN_CODE = { coding: [{ system: 'urn:chain', code: 'c' }] };

  beforeAll(async () => {
    drWang = await create({ resourceType: 'Practitioner', name: [{ family: '王', given: ['医生'] }] });
    drLi = await create({ resourceType: 'Practitioner', name: [{ family: 'Li', given: ['Ming'] }] });
    zhang = await create({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:chain:mrn', value: 'A1' }],
      name: [{ family: '张', given: ['三'] }],
      generalPractitioner: [{ reference: `Practitioner/${drWang}` }],
    });
    smith = await create({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:chain:mrn', value: 'B1' }],
      name: [{ family: 'Smith', given: ['Anna'] }],
      generalPractitioner: [{ reference: `Practitioner/${drLi}` }],
    });
    gone = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:chain:mrn', value: 'C1' }], name: [{ family: '张', given: ['五'] }] });
    clinicZhang = await create({ resourceType: 'Location', name: '张家口诊所', status: 'active' });
    await create({ resourceType: 'Location', name: 'Smithfield Clinic', status: 'active' });

    obsZhang1 = await create(obs(CHAIN_CODE, { subject: { reference: `Patient/${zhang}` } }));
    obsZhang2 = await create(obs(CHAIN_CODE, { subject: { reference: `Patient/${zhang}` } }));
    obsSmith = await create(obs(CHAIN_CODE, { subject: { reference: `Patient/${smith}` } }));
    obsClinic = await create(obs(CHAIN_CODE, { subject: { reference: `Location/${clinicZhang}` } }));
    obsGone = await create(obs(CHAIN_CODE, { subject: { reference: `Patient/${gone}` } }));
    obsNoSubject = await create(obs(CHAIN_CODE));
    expect((await server.fhir(`Patient/${gone}`, { method: 'DELETE' })).status).toBe(200);
  });

  const chainSearch = (...pairs: Array<[string, string]>) => searchIds(q('Observation', ['code', 'urn:chain|c'], ...pairs));

  it('subject:Patient.identifier=system|value matches resources whose subject has that identifier', async () => {
    expect(await chainSearch(['subject:Patient.identifier', 'urn:chain:mrn|A1'])).toEqual(sorted([obsZhang1, obsZhang2]));
    expect(await chainSearch(['subject:Patient.identifier', 'urn:chain:mrn|B1'])).toEqual([obsSmith]);
    expect(await chainSearch(['subject:Patient.identifier', 'urn:chain:mrn|A1,urn:chain:mrn|B1'])).toEqual(sorted([obsZhang1, obsZhang2, obsSmith]));
    expect(await chainSearch(['subject:Patient.identifier', 'urn:other|A1'])).toEqual([]);
    // a deleted target no longer matches the chain, though the plain reference still does
    expect(await chainSearch(['subject:Patient.identifier', 'urn:chain:mrn|C1'])).toEqual([]);
    expect(await chainSearch(['subject', `Patient/${gone}`])).toEqual([obsGone]);
    expect(await chainSearch(['subject:Patient.name', '张'])).toEqual(sorted([obsZhang1, obsZhang2]));
    expect(await chainSearch(['patient.identifier', 'urn:chain:mrn|A1'])).toEqual(sorted([obsZhang1, obsZhang2]));
    expect(await chainSearch(['subject:missing', 'true'])).toEqual([obsNoSubject]);
  });

  it('subject.name without a type searches every target type that has the parameter', async () => {
    // Observation.subject may be a Patient, Group, Device or Location; Patient and Location have "name"
    expect(await chainSearch(['subject.name', '张'])).toEqual(sorted([obsZhang1, obsZhang2, obsClinic]));
    expect(await chainSearch(['subject.name', 'smith'])).toEqual([obsSmith]);
    expect(await chainSearch(['subject:Location.name', '张'])).toEqual([obsClinic]);
    expect(await chainSearch(['subject.name', '李'])).toEqual([]);
  });

  it('chains over several levels: subject:Patient.general-practitioner:Practitioner.name', async () => {
    expect(await chainSearch(['subject:Patient.general-practitioner:Practitioner.name', '王'])).toEqual(sorted([obsZhang1, obsZhang2]));
    expect(await chainSearch(['subject:Patient.general-practitioner:Practitioner.name', 'li'])).toEqual([obsSmith]);
    expect(await chainSearch(['subject:Patient.general-practitioner.name', 'ming'])).toEqual([obsSmith]);
    expect(await chainSearch(['subject:Patient.general-practitioner:Practitioner.name', 'nobody'])).toEqual([]);
    // AND of a chain and a plain parameter on the same search
    expect(await chainSearch(['subject:Patient.general-practitioner:Practitioner.name', '王'], ['_id', obsZhang2])).toEqual([obsZhang2]);
  });
});

describe('reverse chaining (_has)', () => {
  let withSystolic: string, withTemperatureOnly: string, performerOnly: string, withVerifiedSystolic: string, withOtherAgent: string;
  let drX: string, drY: string;

  beforeAll(async () => {
    drX = await create({ resourceType: 'Practitioner', name: [{ family: 'Xu' }] });
    drY = await create({ resourceType: 'Practitioner', name: [{ family: 'Yang' }] });
    const patient = (value: string) => create({ resourceType: 'Patient', identifier: [{ system: 'urn:has', value }] });
    withSystolic = await patient('1');
    withTemperatureOnly = await patient('2');
    performerOnly = await patient('3');
    withVerifiedSystolic = await patient('4');
    withOtherAgent = await patient('5');
    await patient('6'); // no observations at all

    await create(obs(loinc('8480-6'), { subject: { reference: `Patient/${withSystolic}` }, valueQuantity: mmHg(120) }));
    await create(obs(loinc('8310-5'), { subject: { reference: `Patient/${withTemperatureOnly}` } }));
    // the patient is only the performer: not a match for _has:Observation:subject
    await create(obs(loinc('8480-6'), { subject: { reference: `Patient/${withTemperatureOnly}` }, performer: [{ reference: `Patient/${performerOnly}` }] }));
    const verified = await create(obs(loinc('8480-6'), { subject: { reference: `Patient/${withVerifiedSystolic}` } }));
    const other = await create(obs(loinc('8480-6'), { subject: { reference: `Patient/${withOtherAgent}` } }));
    const provenance = (target: string, agent: string): Json => ({
      resourceType: 'Provenance',
      target: [{ reference: `Observation/${target}` }],
      recorded: '2024-05-01T10:00:00Z',
      agent: [{ who: { reference: `Practitioner/${agent}` } }],
    });
    await create(provenance(verified, drX));
    await create(provenance(other, drY));
  });

  const hasSearch = (...pairs: Array<[string, string]>) => searchIds(q('Patient', ['identifier', 'urn:has|'], ...pairs));

  it('Patient?_has:Observation:subject:code= finds patients that are the subject of a matching Observation', async () => {
    // withTemperatureOnly also is the subject of a systolic Observation (whose performer is performerOnly)
    expect(await hasSearch(['_has:Observation:subject:code', `${LOINC}|8480-6`])).toEqual(sorted([withSystolic, withTemperatureOnly, withVerifiedSystolic, withOtherAgent]));
    expect(await hasSearch(['_has:Observation:subject:code', `${LOINC}|8310-5`])).toEqual([withTemperatureOnly]);
    expect(await hasSearch(['_has:Observation:performer:code', `${LOINC}|8480-6`])).toEqual([performerOnly]);
    expect(await hasSearch(['_has:Observation:subject:code', `${LOINC}|9999-9`])).toEqual([]);
    expect(await hasSearch(['_has:Observation:subject:value-quantity', 'lt130'])).toEqual([withSystolic]);
  });

  it('nests: _has:Observation:subject:_has:Provenance:target:agent', async () => {
    expect(await hasSearch(['_has:Observation:subject:_has:Provenance:target:agent', `Practitioner/${drX}`])).toEqual([withVerifiedSystolic]);
    expect(await hasSearch(['_has:Observation:subject:_has:Provenance:target:agent', `Practitioner/${drY}`])).toEqual([withOtherAgent]);
    expect(await hasSearch(['_has:Observation:subject:_has:Provenance:target:agent', 'Practitioner/nobody'])).toEqual([]);
  });
});

describe('unknown chains and _has', () => {
  let known: string;
  beforeAll(async () => {
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Unknownchain' }] });
    known = await create(obs({ coding: [{ system: 'urn:unknown-chain', code: 'u' }] }, { subject: { reference: `Patient/${patient}` } }));
    await create(obs({ coding: [{ system: 'urn:unknown-chain-other', code: 'u' }] }, { subject: { reference: `Patient/${patient}` } }));
  });

  const unsupported: Array<[string, string, string]> = [
    ['Observation', 'subject.no-such-param', 'x'],
    ['Observation', 'subject:Patient.no-such-param', 'x'],
    ['Observation', 'subject:NoSuchType.name', 'x'],
    ['Observation', 'code.name', 'x'], // not a reference parameter
    ['Observation', 'subject:Patient.general-practitioner:Practitioner.no-such-param', 'x'],
    ['Patient', '_has:Observation:subject:no-such-param', 'x'],
    ['Patient', '_has:NoSuchType:subject:code', 'x'],
    ['Patient', '_has:Observation:no-such-ref:code', 'x'],
  ];

  it('ignores them and reports each in an outcome entry (lenient handling)', async () => {
    for (const [type, name, value] of unsupported) {
      const filter: [string, string] = type === 'Observation' ? ['code', 'urn:unknown-chain|u'] : ['family', 'Unknownchain'];
      const res = await server.fhir(q(type, filter, [name, value]));
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(matchIds(res.body).length, name).toBe(1);
      if (type === 'Observation') expect(matchIds(res.body)).toEqual([known]);
      const reported = outcomes(res.body);
      expect(reported, name).toHaveLength(1);
      expect(reported[0]!.resourceType).toBe('OperationOutcome');
      expect(reported[0]!.issue[0].severity, name).toBe('warning');
      expect(reported[0]!.issue[0].expression, name).toEqual([name]);
    }
  });

  it('rejects them with 400 under Prefer: handling=strict', async () => {
    for (const [type, name, value] of unsupported) {
      const res = await server.fhir(q(type, [name, value]), { headers: { prefer: 'handling=strict' } });
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].severity).toBe('error');
      expect(res.body.issue[0].details.coding[0].code, name).toBe('CB_ERR_UNKNOWN_SEARCH_PARAMETER');
      expect(res.body.issue[0].expression, name).toEqual([name]);
    }
    // a valid chain is fine under strict handling
    const ok = await server.fhir(q('Observation', ['code', 'urn:unknown-chain|u'], ['subject:Patient.name', 'Unknownchain']), { headers: { prefer: 'handling=strict' } });
    expect(ok.status).toBe(200);
    expect(matchIds(ok.body)).toEqual([known]);
  });
});

describe('composite parameters', () => {
  let systolic150: string, systolic130: string, systolic140: string, diastolic150: string;
  let panelHigh: string, panelNormal: string, panelHighDiastolic: string;

  beforeAll(async () => {
    systolic150 = await create(obs(loinc('8480-6'), { valueQuantity: mmHg(150) }));
    systolic130 = await create(obs(loinc('8480-6'), { valueQuantity: mmHg(130) }));
    systolic140 = await create(obs(loinc('8480-6'), { valueQuantity: mmHg(140) }));
    diastolic150 = await create(obs(loinc('8462-4'), { valueQuantity: mmHg(150) }));
    const panel = (sys: number, dia: number): Json =>
      obs(loinc('85354-9'), {
        component: [
          { code: loinc('8480-6'), valueQuantity: mmHg(sys) },
          { code: loinc('8462-4'), valueQuantity: mmHg(dia) },
        ],
      });
    panelHigh = await create(panel(150, 90));
    panelNormal = await create(panel(130, 85));
    // 150 is there, but under the diastolic code: the code and value must come from the same component
    panelHighDiastolic = await create(panel(120, 150));
  });

  it('code-value-quantity matches code and value of the same Observation', async () => {
    const universe = [systolic150, systolic130, systolic140, diastolic150, panelHigh, panelNormal, panelHighDiastolic];
    // other tests' Observations carry LOINC codes and values too: look only at this test's data
    const cvq = async (v: string) => (await searchIds(q('Observation', ['code-value-quantity', v]))).filter((id) => universe.includes(id));
    expect(await cvq(`${LOINC}|8480-6$gt140`)).toEqual([systolic150]);
    expect(await cvq(`${LOINC}|8480-6$lt140`)).toEqual([systolic130]);
    expect(await cvq(`${LOINC}|8480-6$ge140`)).toEqual(sorted([systolic150, systolic140]));
    expect(await cvq(`${LOINC}|8480-6$140`)).toEqual([systolic140]);
    expect(await cvq(`${LOINC}|8462-4$gt140`)).toEqual([diastolic150]);
    expect(await cvq(`${LOINC}|8480-6$gt140,${LOINC}|8462-4$gt140`)).toEqual(sorted([systolic150, diastolic150]));
    expect(await cvq(`${LOINC}|8480-6$gt140|${UCUM}|mm[Hg]`)).toEqual([systolic150]);
    expect(await cvq(`${LOINC}|8480-6$gt200`)).toEqual([]);
    expect(await cvq(`urn:other|8480-6$gt140`)).toEqual([]);
  });

  it('component-code-value-quantity matches code and value of the same component', async () => {
    const ccvq = (v: string) => searchIds(q('Observation', ['component-code-value-quantity', v]));
    // only this test's Observations have components
    expect(await ccvq(`${LOINC}|8480-6$gt140`)).toEqual([panelHigh]);
    expect(await ccvq(`${LOINC}|8480-6$lt140`)).toEqual(sorted([panelNormal, panelHighDiastolic]));
    expect(await ccvq(`${LOINC}|8462-4$gt140`)).toEqual([panelHighDiastolic]);
    expect(await ccvq(`${LOINC}|8462-4$lt100`)).toEqual(sorted([panelHigh, panelNormal]));
    expect(await ccvq(`${LOINC}|8480-6$gt200`)).toEqual([]);
    // AND of two composite values on the same panel
    expect(await searchIds(q('Observation', ['component-code-value-quantity', `${LOINC}|8480-6$gt140`], ['component-code-value-quantity', `${LOINC}|8462-4$lt100`]))).toEqual([
      panelHigh,
    ]);
  });

  it('combo-code-value-quantity matches the Observation itself and each of its components', async () => {
    const universe = [systolic150, systolic130, systolic140, diastolic150, panelHigh, panelNormal, panelHighDiastolic];
    const combo = async (v: string) => (await searchIds(q('Observation', ['combo-code-value-quantity', v]))).filter((id) => universe.includes(id));
    expect(await combo(`${LOINC}|8480-6$gt140`)).toEqual(sorted([systolic150, panelHigh]));
    expect(await combo(`${LOINC}|8462-4$gt140`)).toEqual(sorted([diastolic150, panelHighDiastolic]));
    expect(await combo(`${LOINC}|8480-6$gt200`)).toEqual([]);
  });

  it('rejects a composite value without its $ separator with 400', async () => {
    const res = await server.fhir(q('Observation', ['code-value-quantity', `${LOINC}|8480-6`]));
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].details.coding[0].code).toBe('CB_ERR_INVALID_SEARCH');
  });
});

describe('token modifiers', () => {
  const textObs = (code: Json) => create(obs(code, { subject: { reference: 'Patient/text-test' } }));
  const textSearch = async (v: string, universe: string[]) =>
    (await searchIds(q('Observation', ['subject', 'Patient/text-test'], ['code:text', v]))).filter((id) => universe.includes(id));

  it(':text matches the start of Coding.display or CodeableConcept.text, ignoring case, Chinese included', async () => {
    const systolic = await textObs({ coding: [{ system: 'urn:text-test', code: 'sbp', display: 'Systolic blood pressure' }] });
    const glucose = await textObs({ text: 'Blood glucose' });
    const heartRate = await textObs({ coding: [{ system: 'urn:text-test', code: 'hr', display: '心率 Heart rate' }] });
    const pulse = await textObs({ text: '脉搏' });
    const uncoded = await textObs({ coding: [{ system: 'urn:text-test', code: 'systolic' }] });
    const universe = [systolic, glucose, heartRate, pulse, uncoded];
    const t = (v: string) => textSearch(v, universe);

    expect(await t('systolic')).toEqual([systolic]); // Coding.display, not the code "systolic"
    expect(await t('SYSTOLIC BLOOD')).toEqual([systolic]);
    expect(await t('blood gl')).toEqual([glucose]); // CodeableConcept.text without codings
    expect(await t('BLOOD GLUCOSE')).toEqual([glucose]);
    expect(await t('心率')).toEqual([heartRate]);
    expect(await t('脉')).toEqual([pulse]);
    expect(await t('舒张')).toEqual([]);
    expect(await t('pressure systolic')).toEqual([]);
    // OR of two values
    expect(await t('脉搏,systolic')).toEqual(sorted([pulse, systolic]));
  });

  it(':text also matches CodeableConcept.text when its codings have displays of their own', async () => {
    const bilingual = await textObs({ coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }], text: '收缩压' });
    const other = await textObs({ coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }], text: '舒张压' });
    const universe = [bilingual, other];
    const t = (v: string) => textSearch(v, universe);

    expect(await t('systolic')).toEqual([bilingual]); // Coding.display
    expect(await t('收缩')).toEqual([bilingual]); // CodeableConcept.text
    expect(await t('收缩压')).toEqual([bilingual]);
    expect(await t('舒张')).toEqual([other]);
    expect(await t('血糖')).toEqual([]);
  });

  it('identifier:of-type=system|code|value matches the identifier type and value together', async () => {
    const identifier = (value: string, type?: string): Json => ({
      system: 'urn:hospital:of-type',
      value,
      ...(type ? { type: { coding: [{ system: V2_0203, code: type }] } } : {}),
    });
    const mr12345 = await create({ resourceType: 'Patient', identifier: [identifier('12345', 'MR')] });
    const ss12345 = await create({ resourceType: 'Patient', identifier: [identifier('12345', 'SS')] });
    const mr99999 = await create({ resourceType: 'Patient', identifier: [identifier('99999', 'MR')] });
    const untyped12345 = await create({ resourceType: 'Patient', identifier: [identifier('12345')] });
    // MR on one identifier, 12345 on another: not a match
    const split = await create({ resourceType: 'Patient', identifier: [identifier('55555', 'MR'), identifier('12345', 'SS')] });
    const universe = [mr12345, ss12345, mr99999, untyped12345, split];
    const ot = async (v: string) => (await searchIds(q('Patient', ['identifier:of-type', v]))).filter((id) => universe.includes(id));

    expect(await ot(`${V2_0203}|MR|12345`)).toEqual([mr12345]);
    expect(await ot(`${V2_0203}|SS|12345`)).toEqual(sorted([ss12345, split]));
    expect(await ot(`${V2_0203}|MR|99999`)).toEqual([mr99999]);
    expect(await ot(`${V2_0203}|MR|12345,${V2_0203}|MR|99999`)).toEqual(sorted([mr12345, mr99999]));
    expect(await ot(`${V2_0203}|DL|12345`)).toEqual([]);
    expect(await ot(`urn:other|MR|12345`)).toEqual([]);
    expect(await searchIds(q('Patient', ['identifier', 'urn:hospital:of-type|12345']))).toEqual(sorted([mr12345, ss12345, untyped12345, split]));
  });
});

describe('reference :identifier', () => {
  it('subject:identifier=system|value matches Reference.identifier', async () => {
    const byMrn = await create({ resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'M1' }] });
    const logical = await create(obs(loinc('8480-6'), { subject: { identifier: { system: 'urn:mrn', value: 'M1' } } }));
    const both = await create(obs(loinc('8480-6'), { subject: { reference: `Patient/${byMrn}`, identifier: { system: 'urn:mrn', value: 'M1' } } }));
    const otherMrn = await create(obs(loinc('8480-6'), { subject: { identifier: { system: 'urn:mrn', value: 'M2' } } }));
    const otherSystem = await create(obs(loinc('8480-6'), { subject: { identifier: { system: 'urn:other-mrn', value: 'M1' } } }));
    // a literal reference to a patient with that identifier does not carry it: :identifier does not match
    const literalOnly = await create(obs(loinc('8480-6'), { subject: { reference: `Patient/${byMrn}` } }));
    const universe = [logical, both, otherMrn, otherSystem, literalOnly];
    const s = async (...pairs: Array<[string, string]>) => (await searchIds(q('Observation', ...pairs))).filter((id) => universe.includes(id));

    expect(await s(['subject:identifier', 'urn:mrn|M1'])).toEqual(sorted([logical, both]));
    expect(await s(['subject:identifier', 'urn:mrn|M2'])).toEqual([otherMrn]);
    expect(await s(['subject:identifier', 'M1'])).toEqual(sorted([logical, both, otherSystem]));
    expect(await s(['subject:identifier', 'urn:mrn|M3'])).toEqual([]);
    expect(await s(['subject', `Patient/${byMrn}`])).toEqual(sorted([both, literalOnly]));
  });
});

describe('_tag, _profile and _security', () => {
  const PROFILE = 'http://example.org/fhir/StructureDefinition/cb-search-patient';
  const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
  let vip: string, normal: string, profiled: string, restricted: string, plain: string;
  let universe: string[];

  beforeAll(async () => {
    vip = await create({ resourceType: 'Patient', meta: { tag: [{ system: 'urn:cb:tags', code: 'vip' }] } });
    normal = await create({ resourceType: 'Patient', meta: { tag: [{ system: 'urn:cb:tags', code: 'normal' }, { system: 'urn:cb:other-tags', code: 'vip' }] } });
    profiled = await create({ resourceType: 'Patient', meta: { profile: [PROFILE] } });
    restricted = await create({ resourceType: 'Patient', meta: { security: [{ system: CONFIDENTIALITY, code: 'R' }] } });
    plain = await create({ resourceType: 'Patient', meta: { security: [{ system: CONFIDENTIALITY, code: 'N' }], profile: [`${PROFILE}-v2`] } });
    universe = [vip, normal, profiled, restricted, plain];
  });

  const among = async (...pairs: Array<[string, string]>) => (await searchIds(q('Patient', ...pairs))).filter((id) => universe.includes(id));

  it('_tag matches meta.tag codings', async () => {
    expect(await among(['_tag', 'urn:cb:tags|vip'])).toEqual([vip]);
    expect(await among(['_tag', 'vip'])).toEqual(sorted([vip, normal]));
    expect(await among(['_tag', 'urn:cb:tags|'])).toEqual(sorted([vip, normal]));
    expect(await among(['_tag:not', 'urn:cb:tags|vip'])).toEqual(sorted([normal, profiled, restricted, plain]));
    expect(await among(['_tag', 'urn:cb:tags|none'])).toEqual([]);
  });

  it('_profile matches meta.profile exactly', async () => {
    expect(await among(['_profile', PROFILE])).toEqual([profiled]);
    expect(await among(['_profile', `${PROFILE}-v2`])).toEqual([plain]);
    expect(await among(['_profile', 'http://example.org/fhir/StructureDefinition/cb-search'])).toEqual([]);
  });

  it('_security matches meta.security codings', async () => {
    expect(await among(['_security', `${CONFIDENTIALITY}|R`])).toEqual([restricted]);
    expect(await among(['_security', `${CONFIDENTIALITY}|N`])).toEqual([plain]);
    expect(await among(['_security', `${CONFIDENTIALITY}|R,${CONFIDENTIALITY}|N`])).toEqual(sorted([restricted, plain]));
    expect(await among(['_security', `${CONFIDENTIALITY}|V`])).toEqual([]);
  });
});
