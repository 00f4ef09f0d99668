// ConceptMap/$translate (http://hl7.org/fhir/R4/conceptmap-operation-translate.html) over HTTP and
// through translate(store, …): type and instance level, GET with URL parameters, POST with a
// Parameters body or form parameters (http://hl7.org/fhir/R4/operations.html#request), the
// Parameters answer (result, message, match), reverse, targetsystem, codeableConcept,
// group.unmapped modes (http://hl7.org/fhir/R4/conceptmap-definitions.html#ConceptMap.group.unmapped),
// errors as OperationOutcome (http://hl7.org/fhir/R4/operationoutcome.html), the operation in the
// CapabilityStatement (http://hl7.org/fhir/R4/capabilitystatement.html), and that changed
// ConceptMaps take effect at once.
import { beforeAll, describe, expect, it } from 'vitest';
import { translate } from '../src/fhir/operations/translate.ts';
import { PgFhirStore } from '../src/fhir/store/pg-fhir-store.ts';
import type { Json } from './helpers/bundles.ts';
import { q } from './helpers/bundles.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();

/** A hospital's local code systems (synthetic) and the standard ones they map to. */
const LOCAL_SEX = 'https://hospital-a.example/CodeSystem/sex';
const LOCAL_LAB = 'https://hospital-a.example/CodeSystem/lab';
const LOCAL_DISPOSITION = 'https://hospital-a.example/CodeSystem/discharge';
const GENDER = 'http://hl7.org/fhir/administrative-gender';
const LOINC = 'http://loinc.org';
const DISPOSITION = 'http://terminology.hl7.org/CodeSystem/discharge-disposition';
const SEX_URL = 'https://hospital-a.example/fhir/ConceptMap/sex';
const LAB_URL = 'https://hospital-a.example/fhir/ConceptMap/lab';

const sexMap = (version: string, elements: Json[]): Json => ({
  resourceType: 'ConceptMap',
  id: 'sex',
  url: SEX_URL,
  version,
  status: 'active',
  sourceUri: 'https://hospital-a.example/ValueSet/sex',
  targetUri: 'http://hl7.org/fhir/ValueSet/administrative-gender',
  group: [{ source: LOCAL_SEX, target: GENDER, element: elements }],
});
const SEX_ELEMENTS = [
  { code: '1', display: '男', target: [{ code: 'male', display: 'Male', equivalence: 'equivalent' }] },
  { code: '2', display: '女', target: [{ code: 'female', display: 'Female', equivalence: 'equivalent' }] },
  { code: '9', target: [{ equivalence: 'unmatched', comment: 'not stated' }] },
];

const labMap: Json = {
  resourceType: 'ConceptMap',
  id: 'lab',
  url: LAB_URL,
  status: 'draft',
  group: [
    {
      source: LOCAL_LAB,
      target: LOINC,
      element: [
        { code: 'GLU', target: [{ code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma', equivalence: 'equivalent' }] },
        { code: 'HB', target: [{ code: '718-7', equivalence: 'narrower', comment: 'blood specimen assumed' }] },
      ],
    },
  ],
};

/** Discharge dispositions: a few explicit, the rest by one of the unmapped modes. */
const dispositionMap = (id: string, unmapped: Json, source = LOCAL_DISPOSITION): Json => ({
  resourceType: 'ConceptMap',
  id,
  url: `https://hospital-a.example/fhir/ConceptMap/${id}`,
  status: 'active',
  group: [{ source, target: DISPOSITION, element: [{ code: '01', target: [{ code: 'home', equivalence: 'equivalent' }] }], unmapped }],
});

async function put(resource: Json): Promise<void> {
  const res = await server.fhir(`${resource.resourceType}/${resource.id}`, { method: 'PUT', body: resource });
  expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
}

/** GET or POST a $translate; expects a 200 Parameters and returns it. */
async function translated(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<Json> {
  const res = await server.fhir(path, init);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.resourceType).toBe('Parameters');
  return res.body;
}

const param = (p: Json, name: string): Json | undefined => p.parameter.find((x: Json) => x.name === name);
const result = (p: Json): boolean => param(p, 'result')?.valueBoolean;
/** Each match as "equivalence system|code source". */
const matches = (p: Json): string[] =>
  p.parameter
    .filter((x: Json) => x.name === 'match')
    .map((m: Json) => {
      const part = (n: string) => m.part.find((x: Json) => x.name === n);
      const c = part('concept')?.valueCoding ?? {};
      return `${part('equivalence').valueCode} ${c.system}|${c.code ?? ''} ${part('source').valueUri}`;
    });

async function expectError(path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } | undefined, status: number, code: string, expression?: string): Promise<Json> {
  const res = await server.fhir(path, init);
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].details.coding[0].code).toBe(code);
  if (expression) expect(res.body.issue[0].expression).toContain(expression);
  return res.body;
}

beforeAll(async () => {
  await put(sexMap('1', SEX_ELEMENTS));
  await put(labMap);
  await put(dispositionMap('disposition-provided', { mode: 'provided' }, `${LOCAL_DISPOSITION}/provided`));
  await put(dispositionMap('disposition-fixed', { mode: 'fixed', code: 'oth', display: 'Other' }, `${LOCAL_DISPOSITION}/fixed`));
  // other-map: the map deferred to has a group from the same source system (its own explicit
  // mapping of 01 is not reached: the chain maps 01 itself).
  await put(dispositionMap('disposition-fallback', { mode: 'fixed', code: 'oth' }, `${LOCAL_DISPOSITION}/chain`));
  await put(dispositionMap('disposition-chain', { mode: 'other-map', url: 'https://hospital-a.example/fhir/ConceptMap/disposition-fallback' }, `${LOCAL_DISPOSITION}/chain`));
  await put(dispositionMap('cycle-a', { mode: 'other-map', url: 'https://hospital-a.example/fhir/ConceptMap/cycle-b' }, `${LOCAL_DISPOSITION}/cycle`));
  await put(dispositionMap('cycle-b', { mode: 'other-map', url: 'https://hospital-a.example/fhir/ConceptMap/cycle-a' }, `${LOCAL_DISPOSITION}/cycle`));
  await put({ ...dispositionMap('retired', { mode: 'provided' }, `${LOCAL_DISPOSITION}/retired`), status: 'retired' });
});

describe('ConceptMap/$translate', () => {
  it('GET with url, system and code answers result and the match', async () => {
    const p = await translated(q('ConceptMap/$translate', ['url', SEX_URL], ['system', LOCAL_SEX], ['code', '1']));
    expect(result(p)).toBe(true);
    expect(param(p, 'message')).toBeUndefined();
    expect(param(p, 'match')).toEqual({
      name: 'match',
      part: [
        { name: 'equivalence', valueCode: 'equivalent' },
        { name: 'concept', valueCoding: { system: GENDER, code: 'male', display: 'Male' } },
        { name: 'source', valueUri: SEX_URL },
      ],
    });
  });

  it('finds the map by the code system when none is named, narrowed by targetsystem', async () => {
    expect(matches(await translated(q('ConceptMap/$translate', ['system', LOCAL_LAB], ['code', 'GLU'])))).toEqual([`equivalent ${LOINC}|2345-7 ${LAB_URL}`]);
    expect(matches(await translated(q('ConceptMap/$translate', ['system', LOCAL_SEX], ['code', '2'], ['targetsystem', GENDER])))).toEqual([`equivalent ${GENDER}|female ${SEX_URL}`]);
    const elsewhere = await translated(q('ConceptMap/$translate', ['system', LOCAL_SEX], ['code', '2'], ['targetsystem', LOINC]));
    expect(result(elsewhere)).toBe(false);
  });

  it('POST Parameters with a coding, and with a codeableConcept', async () => {
    const byCoding = await translated('ConceptMap/$translate', {
      method: 'POST',
      body: { resourceType: 'Parameters', parameter: [{ name: 'coding', valueCoding: { system: LOCAL_LAB, code: 'HB' } }, { name: 'url', valueUri: LAB_URL }] },
    });
    expect(matches(byCoding)).toEqual([`narrower ${LOINC}|718-7 ${LAB_URL}`]);
    const byConcept = await translated('ConceptMap/$translate', {
      method: 'POST',
      body: { resourceType: 'Parameters', parameter: [{ name: 'codeableConcept', valueCodeableConcept: { coding: [{ system: 'urn:nobody', code: 'x' }, { system: LOCAL_SEX, code: '2' }], text: '女' } }] },
    });
    expect(matches(byConcept)).toEqual([`equivalent ${GENDER}|female ${SEX_URL}`]);
  });

  it('POST with form parameters', async () => {
    const body = new URLSearchParams({ system: LOCAL_SEX, code: '1' }).toString();
    const p = await translated('ConceptMap/$translate', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(matches(p)).toEqual([`equivalent ${GENDER}|male ${SEX_URL}`]);
  });

  it('on an instance uses that map only, whatever its status', async () => {
    expect(matches(await translated(q('ConceptMap/lab/$translate', ['system', LOCAL_LAB], ['code', 'GLU'])))).toEqual([`equivalent ${LOINC}|2345-7 ${LAB_URL}`]);
    expect(result(await translated(q('ConceptMap/lab/$translate', ['system', LOCAL_SEX], ['code', '1'])))).toBe(false);
    const retired = `${LOCAL_DISPOSITION}/retired`;
    expect(result(await translated(q('ConceptMap/$translate', ['system', retired], ['code', '07'])))).toBe(false);
    expect(matches(await translated(q('ConceptMap/retired/$translate', ['system', retired], ['code', '07'])))).toEqual([
      `equal ${DISPOSITION}|07 https://hospital-a.example/fhir/ConceptMap/retired`,
    ]);
  });

  it('reverse maps a standard code back to the local one', async () => {
    const p = await translated(q('ConceptMap/$translate', ['system', GENDER], ['code', 'female'], ['reverse', 'true']));
    expect(param(p, 'match')?.part[1]).toEqual({ name: 'concept', valueCoding: { system: LOCAL_SEX, code: '2', display: '女' } });
    expect(matches(await translated(q('ConceptMap/$translate', ['system', LOINC], ['code', '718-7'], ['reverse', 'true'])))).toEqual([`wider ${LOCAL_LAB}|HB ${LAB_URL}`]);
  });

  it('answers result false with a message when nothing maps', async () => {
    const none = await translated(q('ConceptMap/$translate', ['system', LOCAL_SEX], ['code', '5']));
    expect(result(none)).toBe(false);
    expect(param(none, 'message')?.valueString).toContain(`${LOCAL_SEX}|5`);
    expect(matches(none)).toEqual([]);
    const unmatched = await translated(q('ConceptMap/$translate', ['system', LOCAL_SEX], ['code', '9']));
    expect(result(unmatched)).toBe(false);
    expect(matches(unmatched)).toEqual([`unmatched ${GENDER}| ${SEX_URL}`]);
    expect(result(await translated(q('ConceptMap/$translate', ['system', 'urn:unknown-system'], ['code', '1'])))).toBe(false);
  });

  describe('group.unmapped', () => {
    const run = async (system: string, code: string) => matches(await translated(q('ConceptMap/$translate', ['system', system], ['code', code])));

    it('provided: the code as given, in the target system', async () => {
      expect(await run(`${LOCAL_DISPOSITION}/provided`, 'hosp')).toEqual([`equal ${DISPOSITION}|hosp https://hospital-a.example/fhir/ConceptMap/disposition-provided`]);
      expect(await run(`${LOCAL_DISPOSITION}/provided`, '01')).toEqual([`equivalent ${DISPOSITION}|home https://hospital-a.example/fhir/ConceptMap/disposition-provided`]);
    });

    it('fixed: the code the group gives', async () => {
      expect(await run(`${LOCAL_DISPOSITION}/fixed`, '99')).toEqual([`inexact ${DISPOSITION}|oth https://hospital-a.example/fhir/ConceptMap/disposition-fixed`]);
    });

    it('other-map: the map named by url, and a cycle ends with a message', async () => {
      const chain = q('ConceptMap/disposition-chain/$translate', ['system', `${LOCAL_DISPOSITION}/chain`], ['code', '99']);
      expect(matches(await translated(chain))).toEqual([`inexact ${DISPOSITION}|oth https://hospital-a.example/fhir/ConceptMap/disposition-fallback`]);
      const explicit = q('ConceptMap/disposition-chain/$translate', ['system', `${LOCAL_DISPOSITION}/chain`], ['code', '01']);
      expect(matches(await translated(explicit))).toEqual([`equivalent ${DISPOSITION}|home https://hospital-a.example/fhir/ConceptMap/disposition-chain`]);

      const cycle = await translated(q('ConceptMap/cycle-a/$translate', ['system', `${LOCAL_DISPOSITION}/cycle`], ['code', '99']));
      expect(result(cycle)).toBe(false);
      expect(param(cycle, 'message')?.valueString).toMatch(/cycle-a is reached again through other-map/);
    });
  });

  it('a changed ConceptMap takes effect at once, and a newer resource with the same url wins', async () => {
    const path = q('ConceptMap/$translate', ['url', SEX_URL], ['system', LOCAL_SEX], ['code', '9']);
    expect(result(await translated(path))).toBe(false);
    await put(sexMap('2', [...SEX_ELEMENTS.slice(0, 2), { code: '9', target: [{ code: 'unknown', equivalence: 'equivalent' }] }]));
    expect(matches(await translated(path))).toEqual([`equivalent ${GENDER}|unknown ${SEX_URL}`]);

    await put({ ...sexMap('3', [{ code: '9', target: [{ code: 'other', equivalence: 'equivalent' }] }]), id: 'sex-v3' });
    expect(matches(await translated(path))).toEqual([`equivalent ${GENDER}|other ${SEX_URL}`]);
    expect(matches(await translated(`${path}&conceptMapVersion=2`))).toEqual([`equivalent ${GENDER}|unknown ${SEX_URL}`]);
    expect((await server.fhir('ConceptMap/sex-v3', { method: 'DELETE' })).status).toBe(200);
    expect(matches(await translated(path))).toEqual([`equivalent ${GENDER}|unknown ${SEX_URL}`]);
    await expectError(`${path}&conceptMapVersion=3`, undefined, 404, 'CB_ERR_NOT_FOUND', 'url');
  });

  it('is callable without HTTP: translate(store, …)', async () => {
    const store = new PgFhirStore(server.pool);
    const r = await translate(store, { coding: { system: LOCAL_LAB, code: 'GLU' }, targetsystem: LOINC });
    expect(r).toEqual({ result: true, matches: [{ equivalence: 'equivalent', concept: { system: LOINC, code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma' }, source: LAB_URL }] });
  });

  describe('errors', () => {
    it('400 naming the parameter: code without system, none given, ambiguous inputs, coding in the URL, bad reverse', async () => {
      await expectError(q('ConceptMap/$translate', ['code', '1']), undefined, 400, 'CB_ERR_INVALID_OPERATION_PARAMETER', 'system');
      await expectError(q('ConceptMap/$translate', ['system', LOCAL_SEX]), undefined, 400, 'CB_ERR_INVALID_OPERATION_PARAMETER', 'code');
      const both = {
        resourceType: 'Parameters',
        parameter: [{ name: 'system', valueUri: LOCAL_SEX }, { name: 'code', valueCode: '1' }, { name: 'coding', valueCoding: { system: LOCAL_SEX, code: '1' } }],
      };
      const ambiguous = await expectError('ConceptMap/$translate', { method: 'POST', body: both }, 400, 'CB_ERR_INVALID_OPERATION_PARAMETER', 'coding');
      expect(ambiguous.issue[0].details.text).toMatch(/ambiguous/);
      await expectError(q('ConceptMap/$translate', ['coding', `${LOCAL_SEX}|1`]), undefined, 400, 'CB_ERR_INVALID_OPERATION_PARAMETER', 'coding');
      await expectError(q('ConceptMap/$translate', ['system', LOCAL_SEX], ['code', '1'], ['reverse', 'yes']), undefined, 400, 'CB_ERR_INVALID_OPERATION_PARAMETER', 'reverse');
      await expectError('ConceptMap/$translate', { method: 'POST', body: { resourceType: 'Patient' } }, 400, 'CB_ERR_NOT_A_RESOURCE');
    });

    it('404 for an unknown ConceptMap id or url; 405 for other methods', async () => {
      await expectError(q('ConceptMap/nope/$translate', ['system', LOCAL_SEX], ['code', '1']), undefined, 404, 'CB_ERR_NOT_FOUND');
      await expectError(q('ConceptMap/$translate', ['url', 'https://nowhere.example/ConceptMap/x'], ['system', LOCAL_SEX], ['code', '1']), undefined, 404, 'CB_ERR_NOT_FOUND', 'url');
      await expectError('ConceptMap/$translate', { method: 'DELETE' }, 405, 'CB_ERR_METHOD_NOT_ALLOWED');
    });
  });

  it('is listed in the CapabilityStatement on ConceptMap', async () => {
    const res = await server.fhir('metadata');
    const conceptMap = res.body.rest[0].resource.find((r: Json) => r.type === 'ConceptMap');
    expect(conceptMap.operation).toContainEqual({ name: 'translate', definition: 'http://hl7.org/fhir/OperationDefinition/ConceptMap-translate' });
    const patient = res.body.rest[0].resource.find((r: Json) => r.type === 'Patient');
    expect(patient.operation.map((o: Json) => o.name)).not.toContain('translate');
  });
});
