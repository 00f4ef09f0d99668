// FHIR R4 search (http://hl7.org/fhir/R4/search.html): parameter types token, string, date, number,
// quantity, reference, uri (#token #string #date #number #quantity #reference #uri), prefixes (#prefix),
// modifiers :not :missing :exact :contains :below :above :[type] (#modifiers), escaping (#escaping),
// AND/OR (#combining), _id and _lastUpdated (#id #lastUpdated), paging and _count (#count,
// http://hl7.org/fhir/R4/http.html#paging), _total (#total), _summary=count (#summary), _sort (#sort),
// unknown parameters and Prefer: handling (#errors), POST [type]/_search (http://hl7.org/fhir/R4/http.html#search),
// and that only current, non-deleted versions are searched (http://hl7.org/fhir/R4/http.html#delete).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import { link, q, sorted } from './helpers/bundles.ts';
import type { Json } from './helpers/bundles.ts';

const server = useTestServer();

async function create(resource: Json): Promise<string> {
  const res = await server.fhir(resource.resourceType, { method: 'POST', body: resource });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function put(resource: Json): Promise<Json> {
  const res = await server.fhir(`${resource.resourceType}/${resource.id}`, { method: 'PUT', body: resource });
  expect([200, 201], JSON.stringify(res.body)).toContain(res.status);
  return res.body;
}

const matchIds = (bundle: Json): string[] =>
  (bundle.entry ?? []).filter((e: Json) => e.search?.mode !== 'outcome').map((e: Json) => e.resource.id as string);

async function searchIds(path: string, init?: { headers?: Record<string, string> }): Promise<string[]> {
  const res = await server.fhir(path, init);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(200);
  expect(res.body.resourceType).toBe('Bundle');
  expect(res.body.type).toBe('searchset');
  return matchIds(res.body).sort();
}

/** The matches of a search among the given ids (other tests' data may match broad searches). */
async function searchAmong(path: string, universe: string[]): Promise<string[]> {
  // One page large enough for every resource of the file: broad searches match other tests' data,
  // and the default page of 20 (ordered by id) need not contain the universe.
  return (await searchIds(`${path}${path.includes('?') ? '&' : '?'}_count=1000`)).filter((id) => universe.includes(id));
}

/** Relative path of a Bundle link under this server's FHIR base. */
function relative(url: string): string {
  expect(url.startsWith(`${server.fhirBaseUrl}/`), url).toBe(true);
  return url.slice(server.fhirBaseUrl.length + 1);
}

async function expectInvalidSearch(path: string): Promise<void> {
  const res = await server.fhir(path);
  expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBe(400);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].severity).toBe('error');
  expect(res.body.issue[0].details.coding[0].code, path).toBe('CB_ERR_INVALID_SEARCH');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('token parameters', () => {
  const obs = (system: string | undefined, code: string): Json => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ ...(system ? { system } : {}), code }] },
  });

  it('matches system|code, |code, system| and a bare code, with OR by comma', async () => {
    const aT100 = await create(obs('urn:tok:a', 'T-100'));
    const bT100 = await create(obs('urn:tok:b', 'T-100'));
    const noSystemT100 = await create(obs(undefined, 'T-100'));
    const aT200 = await create(obs('urn:tok:a', 'T-200'));
    const cT300 = await create(obs('urn:tok:c', 'T-300'));

    const first = await server.fhir(q('Observation', ['code', 'urn:tok:a|T-100']));
    expect(first.status).toBe(200);
    expect(first.body.entry).toHaveLength(1);
    expect(first.body.entry[0].fullUrl).toBe(`${server.fhirBaseUrl}/Observation/${aT100}`);
    expect(first.body.entry[0].search.mode).toBe('match');

    expect(await searchIds(q('Observation', ['code', 'urn:tok:a|T-100']))).toEqual([aT100]);
    expect(await searchIds(q('Observation', ['code', '|T-100']))).toEqual([noSystemT100]);
    expect(await searchIds(q('Observation', ['code', 'urn:tok:a|']))).toEqual(sorted([aT100, aT200]));
    expect(await searchIds(q('Observation', ['code', 'T-100']))).toEqual(sorted([aT100, bT100, noSystemT100]));
    expect(await searchIds(q('Observation', ['code', 'urn:tok:a|T-100,urn:tok:c|T-300']))).toEqual(sorted([aT100, cT300]));
    // Values of one form are one index condition (value = ANY): bare codes, codes of one system.
    expect(await searchIds(q('Observation', ['code', 'T-100,T-200']))).toEqual(sorted([aT100, bT100, noSystemT100, aT200]));
    expect(await searchIds(q('Observation', ['code', 'urn:tok:a|T-100,urn:tok:a|T-200']))).toEqual(sorted([aT100, aT200]));
    expect(await searchIds(q('Observation', ['code', 'urn:tok:a|T-300,urn:tok:a|T-400']))).toEqual([]);
    expect(await searchIds(q('Observation', ['code', 'urn:tok:a|T-200,T-300']))).toEqual(sorted([aT200, cT300]));
    expect(await searchIds(q('Observation', ['code', 'urn:tok:b|,urn:tok:b|T-200']))).toEqual([bT100]);
    expect(await searchIds(q('Observation', ['code', 'urn:tok:c|T-100']))).toEqual([]);
    expect(await searchIds(q('Observation', ['code', 't-100']))).toEqual([]); // codes are case-sensitive
  });

  it(':not excludes matching resources and keeps those without any value', async () => {
    const male = await create({ resourceType: 'Patient', gender: 'male' });
    const female = await create({ resourceType: 'Patient', gender: 'female' });
    const unknown = await create({ resourceType: 'Patient', gender: 'unknown' });
    const none = await create({ resourceType: 'Patient' });
    const universe = [male, female, unknown, none];
    expect(await searchAmong(q('Patient', ['gender:not', 'male']), universe)).toEqual(sorted([female, unknown, none]));
    expect(await searchAmong(q('Patient', ['gender:not', 'male,female']), universe)).toEqual(sorted([unknown, none]));
    expect(await searchAmong(q('Patient', ['gender', 'male']), universe)).toEqual([male]);
  });

  it(':missing=true finds resources without the element, :missing=false those with it', async () => {
    const withGender = await create({ resourceType: 'Patient', gender: 'other', active: true });
    const without = await create({ resourceType: 'Patient', active: false });
    const universe = [withGender, without];
    expect(await searchAmong(q('Patient', ['gender:missing', 'true']), universe)).toEqual([without]);
    expect(await searchAmong(q('Patient', ['gender:missing', 'false']), universe)).toEqual([withGender]);
    // boolean elements are tokens too
    expect(await searchAmong(q('Patient', ['active', 'true']), universe)).toEqual([withGender]);
    expect(await searchAmong(q('Patient', ['active', 'false']), universe)).toEqual([without]);
  });
});

describe('string parameters', () => {
  let zhangSan: string, zhangWei: string, liSi: string, muller: string, mueller: string;
  beforeAll(async () => {
    zhangSan = await create({ resourceType: 'Patient', name: [{ family: '张', given: ['三'] }] });
    zhangWei = await create({ resourceType: 'Patient', name: [{ family: '张', given: ['伟'] }] });
    liSi = await create({ resourceType: 'Patient', name: [{ family: '李', given: ['四'] }] });
    muller = await create({ resourceType: 'Patient', name: [{ family: 'Müller', given: ['José'] }] });
    mueller = await create({ resourceType: 'Patient', name: [{ family: 'Mueller', given: ['Hans'] }] });
  });

  it('matches a prefix of any name part, Chinese family-first names included', async () => {
    expect(await searchIds(q('Patient', ['name', '张']))).toEqual(sorted([zhangSan, zhangWei]));
    expect(await searchIds(q('Patient', ['name', '张三']))).toEqual([zhangSan]);
    expect(await searchIds(q('Patient', ['name', '三']))).toEqual([zhangSan]);
    expect(await searchIds(q('Patient', ['name', '李']))).toEqual([liSi]);
    expect(await searchIds(q('Patient', ['name', '张四']))).toEqual([]);
    expect(await searchIds(q('Patient', ['family', '张']))).toEqual(sorted([zhangSan, zhangWei]));
    expect(await searchIds(q('Patient', ['given', '伟']))).toEqual([zhangWei]);
  });

  it('ignores case and accents, and only matches at the start', async () => {
    expect(await searchIds(q('Patient', ['name', 'muller']))).toEqual([muller]);
    expect(await searchIds(q('Patient', ['name', 'MÜL']))).toEqual([muller]);
    expect(await searchIds(q('Patient', ['name', 'jose']))).toEqual([muller]);
    expect(await searchIds(q('Patient', ['family', 'Mu']))).toEqual(sorted([muller, mueller]));
    expect(await searchIds(q('Patient', ['name', 'ller']))).toEqual([]);
    expect(await searchIds(q('Patient', ['name', 'hans']))).toEqual([mueller]);
  });

  it(':exact matches a whole value case- and accent-sensitively', async () => {
    expect(await searchIds(q('Patient', ['family:exact', 'Müller']))).toEqual([muller]);
    expect(await searchIds(q('Patient', ['family:exact', 'muller']))).toEqual([]);
    expect(await searchIds(q('Patient', ['family:exact', 'Muller']))).toEqual([]);
    expect(await searchIds(q('Patient', ['family:exact', 'Mül']))).toEqual([]);
    expect(await searchIds(q('Patient', ['family:exact', '张']))).toEqual(sorted([zhangSan, zhangWei]));
  });

  it(':contains matches anywhere, case- and accent-insensitively', async () => {
    expect(await searchIds(q('Patient', ['family:contains', 'LLE']))).toEqual(sorted([muller, mueller]));
    expect(await searchIds(q('Patient', ['family:contains', 'ülle']))).toEqual([muller]);
    expect(await searchIds(q('Patient', ['family:contains', 'ell']))).toEqual([mueller]);
    expect(await searchIds(q('Patient', ['name:contains', '伟']))).toEqual([zhangWei]);
    expect(await searchIds(q('Patient', ['family:contains', 'xyz']))).toEqual([]);
  });
});

describe('date parameters', () => {
  it('compares partial dates as ranges with every prefix', async () => {
    const may1 = await create({ resourceType: 'Patient', birthDate: '1960-05-01' });
    const dec31 = await create({ resourceType: 'Patient', birthDate: '1960-12-31' });
    const next = await create({ resourceType: 'Patient', birthDate: '1961-01-01' });
    const before = await create({ resourceType: 'Patient', birthDate: '1959-12-31' });
    const yearOnly = await create({ resourceType: 'Patient', birthDate: '1960' });
    const universe = [may1, dec31, next, before, yearOnly];
    const bd = (v: string) => searchAmong(q('Patient', ['birthdate', v]), universe);

    expect(await bd('1960')).toEqual(sorted([may1, dec31, yearOnly]));
    expect(await bd('eq1960')).toEqual(sorted([may1, dec31, yearOnly]));
    expect(await bd('1960-05')).toEqual([may1]);
    expect(await bd('1960-05-01')).toEqual([may1]);
    expect(await bd('ne1960')).toEqual(sorted([next, before]));
    expect(await bd('gt1960')).toEqual([next]);
    expect(await bd('lt1960')).toEqual([before]);
    expect(await bd('ge1960')).toEqual(sorted([may1, dec31, next, yearOnly]));
    expect(await bd('le1960')).toEqual(sorted([may1, dec31, before, yearOnly]));
    expect(await bd('gt1960-05-01')).toEqual(sorted([dec31, next, yearOnly]));
    expect(await bd('lt1960-05-01')).toEqual(sorted([before, yearOnly]));
    expect(await bd('sa1960-05')).toEqual(sorted([dec31, next]));
    expect(await bd('eb1960-05')).toEqual([before]);
    expect(await bd('1962')).toEqual([]);
  });

  it('ap matches dates within 10 % of their distance from now (at least a day)', async () => {
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    // Searching 100 days back widens the range by 10 days each side.
    const at = await create({ resourceType: 'Patient', birthDate: day(-100) });
    const near = await create({ resourceType: 'Patient', birthDate: day(-106) });
    const far = await create({ resourceType: 'Patient', birthDate: day(-125) });
    const later = await create({ resourceType: 'Patient', birthDate: day(-75) });
    const universe = [at, near, far, later];
    expect(await searchAmong(q('Patient', ['birthdate', `ap${day(-100)}`]), universe)).toEqual(sorted([at, near]));
    expect(await searchAmong(q('Patient', ['birthdate', `eq${day(-100)}`]), universe)).toEqual([at]);
  });

  it('matches Periods that overlap the range given by ge and le (AND of two values)', async () => {
    const encounter = (start: string, end?: string): Json => ({
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      period: { start, ...(end ? { end } : {}) },
    });
    const february = await create(encounter('2024-02-01T08:00:00Z', '2024-02-20T17:00:00Z'));
    const midMarch = await create(encounter('2024-03-10T08:00:00Z', '2024-03-12T17:00:00Z'));
    const febToMarch = await create(encounter('2024-02-25T08:00:00Z', '2024-03-05T17:00:00Z'));
    const april = await create(encounter('2024-04-02T08:00:00Z', '2024-04-10T17:00:00Z'));
    const ongoing = await create(encounter('2024-01-15T08:00:00Z'));

    expect(await searchIds(q('Encounter', ['date', 'ge2024-03-01'], ['date', 'le2024-03-31']))).toEqual(sorted([midMarch, febToMarch, ongoing]));
    expect(await searchIds(q('Encounter', ['date', '2024-03']))).toEqual([midMarch]);
    expect(await searchIds(q('Encounter', ['date', 'eb2024-03-01']))).toEqual([february]);
    expect(await searchIds(q('Encounter', ['date', 'sa2024-03-31']))).toEqual([april]);
    expect(await searchIds(q('Encounter', ['date', 'gt2024-04-05']))).toEqual(sorted([april, ongoing]));
    expect(await searchIds(q('Encounter', ['date', 'lt2024-01-01']))).toEqual([]);
  });
});

describe('number parameters', () => {
  it('compares decimals with implicit precision and every prefix', async () => {
    const risk = (probability: number): Json => ({
      resourceType: 'RiskAssessment',
      status: 'final',
      subject: { reference: 'Patient/number-subject' },
      prediction: [{ probabilityDecimal: probability }],
    });
    const high = await create(risk(0.8));
    const low = await create(risk(0.25));
    const certain = await create(risk(1));
    const p = (v: string) => searchIds(q('RiskAssessment', ['probability', v]));

    expect(await p('0.8')).toEqual([high]);
    expect(await p('0.80')).toEqual([high]);
    expect(await p('0.81')).toEqual([]);
    expect(await p('1')).toEqual(sorted([high, certain])); // 1 means [0.5, 1.5)
    expect(await p('1.0')).toEqual([certain]); // 1.0 means [0.95, 1.05)
    expect(await p('gt0.5')).toEqual(sorted([high, certain]));
    expect(await p('lt0.5')).toEqual([low]);
    expect(await p('ge0.8')).toEqual(sorted([high, certain]));
    expect(await p('le0.25')).toEqual([low]);
    expect(await p('ne0.8')).toEqual(sorted([low, certain]));
    // ap: within 10 % of the value.
    expect(await p('ap0.85')).toEqual([high]);
    expect(await p('ap1.05')).toEqual([certain]);
    expect(await p('ap0.5')).toEqual([]);
    expect(await p('0.25,1.00')).toEqual(sorted([low, certain]));
  });
});

describe('quantity parameters', () => {
  it('compares values with prefixes, optionally restricted to system and code', async () => {
    const bp = (value: number, system: string, code: string): Json => ({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'urn:qty', code: 'systolic' }] },
      valueQuantity: { value, unit: 'mmHg', system, code },
    });
    const ucum150 = await create(bp(150, 'http://unitsofmeasure.org', 'mm[Hg]'));
    const ucum120 = await create(bp(120, 'http://unitsofmeasure.org', 'mm[Hg]'));
    const other150 = await create(bp(150, 'http://example.org/units', 'mmHg'));
    await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:qty', code: 'systolic' }] }, valueString: '150' });
    const vq = (v: string) => searchIds(q('Observation', ['value-quantity', v]));

    expect(await vq('gt140')).toEqual(sorted([ucum150, other150]));
    expect(await vq('gt140|http://unitsofmeasure.org|mm[Hg]')).toEqual([ucum150]);
    expect(await vq('150||mm[Hg]')).toEqual([ucum150]);
    expect(await vq('150')).toEqual(sorted([ucum150, other150]));
    expect(await vq('lt130')).toEqual([ucum120]);
    expect(await vq('le120|http://unitsofmeasure.org|mm[Hg]')).toEqual([ucum120]);
    expect(await vq('gt140|http://unitsofmeasure.org|mg')).toEqual([]);
    expect(await vq('gt200')).toEqual([]);
  });
});

describe('reference parameters', () => {
  it('matches Type/id, a bare id, and restricts the target type with :[type]', async () => {
    const obs = (reference?: string): Json => ({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'urn:ref', code: 'x' }] },
      ...(reference ? { subject: { reference } } : {}),
    });
    const toPa = await create(obs('Patient/ref-pa'));
    const toPb = await create(obs('Patient/ref-pb'));
    const toGroup = await create(obs('Group/ref-pa'));
    const noSubject = await create(obs());
    const universe = [toPa, toPb, toGroup, noSubject];
    const s = (...pairs: Array<[string, string]>) => searchAmong(q('Observation', ...pairs), universe);

    expect(await s(['subject', 'Patient/ref-pa'])).toEqual([toPa]);
    expect(await s(['subject', 'ref-pa'])).toEqual(sorted([toPa, toGroup]));
    expect(await s(['subject:Patient', 'ref-pa'])).toEqual([toPa]);
    expect(await s(['subject:Group', 'ref-pa'])).toEqual([toGroup]);
    expect(await s(['subject', 'Patient/ref-pa,Patient/ref-pb'])).toEqual(sorted([toPa, toPb]));
    expect(await s(['subject', 'Patient/ref-pc'])).toEqual([]);
    expect(await s(['patient', 'ref-pa'])).toEqual([toPa]);
    expect(await s(['subject:missing', 'true'])).toEqual([noSubject]);
  });

  it('matches an absolute URL or a canonical by its exact text, never a relative reference', async () => {
    const obs = (reference: string): Json => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'urn:abs', code: 'x' }] }, subject: { reference } });
    const absolute = await create(obs('http://other.example/fhir/Patient/abs-1'));
    const relativeOne = await create(obs('Patient/abs-1'));
    const universe = [absolute, relativeOne];
    const s = (...pairs: Array<[string, string]>) => searchAmong(q('Observation', ...pairs), universe);
    expect(await s(['subject', 'http://other.example/fhir/Patient/abs-1'])).toEqual([absolute]);
    expect(await s(['subject', 'Patient/abs-1'])).toEqual([relativeOne]);
    expect(await s(['subject', 'http://other.example/fhir/Patient/abs-2'])).toEqual([]);
    const response = await create({ resourceType: 'QuestionnaireResponse', status: 'completed', questionnaire: 'https://example.org/Questionnaire/abs-q|2' });
    expect(await searchAmong(q('QuestionnaireResponse', ['questionnaire', 'https://example.org/Questionnaire/abs-q|2']), [response])).toEqual([response]);
  });
});

describe('uri parameters', () => {
  it('matches exactly, and by :below and :above', async () => {
    const vs = (url: string): Json => ({ resourceType: 'ValueSet', status: 'active', url });
    const a = await create(vs('http://example.org/fhir/ValueSet/a'));
    const ab = await create(vs('http://example.org/fhir/ValueSet/ab'));
    const other = await create(vs('http://other.org/fhir/ValueSet/a'));
    const u = (name: string, v: string) => searchIds(q('ValueSet', [name, v]));

    expect(await u('url', 'http://example.org/fhir/ValueSet/a')).toEqual([a]);
    expect(await u('url', 'http://example.org/fhir/ValueSet')).toEqual([]);
    expect(await u('url:below', 'http://example.org/fhir')).toEqual(sorted([a, ab]));
    expect(await u('url:above', 'http://example.org/fhir/ValueSet/a/v2')).toEqual([a]);
    expect(await u('url', 'http://other.org/fhir/ValueSet/a')).toEqual([other]);
  });
});

describe('_id and _lastUpdated', () => {
  it('_id matches one or several ids', async () => {
    const [x, y, z] = [await create({ resourceType: 'Patient' }), await create({ resourceType: 'Patient' }), await create({ resourceType: 'Patient' })];
    expect(await searchIds(q('Patient', ['_id', x!]))).toEqual([x]);
    expect(await searchIds(q('Patient', ['_id', `${x},${z}`]))).toEqual(sorted([x!, z!]));
    expect(await searchIds(q('Patient', ['_id', 'no-such-id']))).toEqual([]);
    expect(await searchIds(q('Observation', ['_id', y!]))).toEqual([]); // the id of another type
  });

  it('_lastUpdated compares instants with prefixes', async () => {
    const first = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient' } })).body;
    await sleep(15);
    const second = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient' } })).body;
    await sleep(15);
    const third = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient' } })).body;
    const universe = [first.id, second.id, third.id];
    const lu = (v: string) => searchAmong(q('Patient', ['_lastUpdated', v]), universe);

    expect(await lu(`gt${first.meta.lastUpdated}`)).toEqual(sorted([second.id, third.id]));
    expect(await lu(`ge${second.meta.lastUpdated}`)).toEqual(sorted([second.id, third.id]));
    expect(await lu(`lt${second.meta.lastUpdated}`)).toEqual([first.id]);
    expect(await lu(`le${second.meta.lastUpdated}`)).toEqual(sorted([first.id, second.id]));
    expect(await lu(second.meta.lastUpdated)).toEqual([second.id]);
    expect(await lu(`gt${third.meta.lastUpdated}`)).toEqual([]);
  });
});

describe('combining parameters and escaping', () => {
  let both: string, onlyA: string, onlyB: string, comma: string, x: string, y: string, pipe: string;
  beforeAll(async () => {
    const p = (...values: string[]) => create({ resourceType: 'Patient', identifier: values.map((value) => ({ system: 'urn:combine', value })) });
    both = await p('A', 'B');
    onlyA = await p('A');
    onlyB = await p('B');
    comma = await p('X,Y');
    x = await p('X');
    y = await p('Y');
    pipe = await p('P|Q');
  });

  it('ORs comma-separated values and ANDs repeated parameters', async () => {
    expect(await searchIds(q('Patient', ['identifier', 'urn:combine|A,urn:combine|B']))).toEqual(sorted([both, onlyA, onlyB]));
    expect(await searchIds(q('Patient', ['identifier', 'urn:combine|A'], ['identifier', 'urn:combine|B']))).toEqual([both]);
    expect(await searchIds(q('Patient', ['identifier', 'urn:combine|A'], ['identifier', 'urn:combine|B,urn:combine|X']))).toEqual([both]);
  });

  it('ANDs different parameters', async () => {
    const maleA = await create({ resourceType: 'Patient', gender: 'male', identifier: [{ system: 'urn:combine2', value: 'A' }] });
    await create({ resourceType: 'Patient', gender: 'female', identifier: [{ system: 'urn:combine2', value: 'A' }] });
    await create({ resourceType: 'Patient', gender: 'male', identifier: [{ system: 'urn:combine2', value: 'B' }] });
    expect(await searchIds(q('Patient', ['identifier', 'urn:combine2|A'], ['gender', 'male']))).toEqual([maleA]);
  });

  it('reads \\, and \\| as literal characters, not separators', async () => {
    expect(await searchIds(q('Patient', ['identifier', 'urn:combine|X\\,Y']))).toEqual([comma]);
    expect(await searchIds(q('Patient', ['identifier', 'urn:combine|X,urn:combine|Y']))).toEqual(sorted([x, y]));
    expect(await searchIds(q('Patient', ['identifier', 'urn:combine|P\\|Q']))).toEqual([pipe]);
  });
});

describe('paging', () => {
  let all: string[];
  beforeAll(async () => {
    all = await Promise.all(Array.from({ length: 25 }, (_, i) => create({ resourceType: 'Patient', identifier: [{ system: 'urn:paging', value: String(i) }] })));
    await create({ resourceType: 'Patient', identifier: [{ system: 'urn:paging-other', value: '1' }] });
  });

  async function walk(first: string): Promise<{ pages: string[][]; bundles: Json[] }> {
    const pages: string[][] = [];
    const bundles: Json[] = [];
    let path: string | undefined = first;
    while (path) {
      expect(pages.length, 'too many pages').toBeLessThan(50);
      const res = await server.fhir(path);
      expect(res.status).toBe(200);
      pages.push(matchIds(res.body));
      bundles.push(res.body);
      const next = link(res.body, 'next');
      path = next ? relative(next) : undefined;
    }
    return { pages, bundles };
  }

  it('pages 20 by default and walks all results by next links without duplicates or gaps', async () => {
    const { pages, bundles } = await walk(q('Patient', ['identifier', 'urn:paging|']));
    expect(pages.map((p) => p.length)).toEqual([20, 5]);
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(sorted(seen)).toEqual(sorted(all));
    expect(link(bundles[0]!, 'self')).toBeDefined();
    expect(link(bundles[0]!, 'previous')).toBeUndefined();
    // previous from the last page returns the first page
    const previous = await server.fhir(relative(link(bundles[1]!, 'previous')!));
    expect(matchIds(previous.body)).toEqual(pages[0]);
  });

  it('honours _count and previous links lead back through the same pages', async () => {
    const { pages, bundles } = await walk(q('Patient', ['identifier', 'urn:paging|'], ['_count', '7']));
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
    expect(sorted(pages.flat())).toEqual(sorted(all));
    const back: string[][] = [];
    let prev = link(bundles.at(-1)!, 'previous');
    while (prev) {
      const res = await server.fhir(relative(prev));
      back.unshift(matchIds(res.body));
      prev = link(res.body, 'previous');
    }
    expect(back).toEqual(pages.slice(0, -1));
  });

  it('caps _count at 1000', async () => {
    const entries = Array.from({ length: 1005 }, (_, i) => ({
      request: { method: 'POST', url: 'Patient' },
      resource: { resourceType: 'Patient', identifier: [{ system: 'urn:paging-max', value: String(i) }] },
    }));
    const tx = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: entries } });
    expect(tx.status).toBe(200);
    const res = await server.fhir(q('Patient', ['identifier', 'urn:paging-max|'], ['_count', '5000']));
    expect(res.status).toBe(200);
    expect(res.body.entry).toHaveLength(1000);
    expect(new URL(link(res.body, 'self')!).searchParams.get('_count')).toBe('1000');
    const next = await server.fhir(relative(link(res.body, 'next')!));
    expect(next.body.entry).toHaveLength(5);
    expect(new Set([...matchIds(res.body), ...matchIds(next.body)]).size).toBe(1005);
  });

  it('_count=0 returns no entries and no next link that would repeat the same page forever', async () => {
    const res = await server.fhir(q('Patient', ['identifier', 'urn:paging|'], ['_count', '0']));
    expect(res.status).toBe(200);
    expect(matchIds(res.body)).toEqual([]);
    const next = link(res.body, 'next');
    if (next !== undefined) expect(next).not.toBe(link(res.body, 'self'));
  });

  it('_total=accurate counts all matches, not just the page', async () => {
    const res = await server.fhir(q('Patient', ['identifier', 'urn:paging|'], ['_count', '5'], ['_total', 'accurate']));
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(25);
    expect(res.body.entry).toHaveLength(5);
  });

  it('_summary=count returns only the total', async () => {
    const res = await server.fhir(q('Patient', ['identifier', 'urn:paging|'], ['_summary', 'count']));
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('searchset');
    expect(res.body.total).toBe(25);
    expect(res.body.entry ?? []).toHaveLength(0);
    const none = await server.fhir(q('Patient', ['identifier', 'urn:paging-none|'], ['_summary', 'count']));
    expect(none.body.total).toBe(0);
  });
});

describe('sorting', () => {
  it('sorts by _lastUpdated and _id, ascending or descending', async () => {
    for (const id of ['sort-b', 'sort-c', 'sort-a']) {
      await put({ resourceType: 'Patient', id, identifier: [{ system: 'urn:sort', value: id }] });
      await sleep(15);
    }
    const order = async (sort: string) => {
      const res = await server.fhir(q('Patient', ['identifier', 'urn:sort|'], ['_sort', sort]));
      expect(res.status).toBe(200);
      return matchIds(res.body);
    };
    expect(await order('_lastUpdated')).toEqual(['sort-b', 'sort-c', 'sort-a']);
    expect(await order('-_lastUpdated')).toEqual(['sort-a', 'sort-c', 'sort-b']);
    expect(await order('_id')).toEqual(['sort-a', 'sort-b', 'sort-c']);
    expect(await order('-_id')).toEqual(['sort-c', 'sort-b', 'sort-a']);
  });
});

describe('unknown and malformed parameters', () => {
  let known: string[];
  beforeAll(async () => {
    known = [
      await create({ resourceType: 'Patient', identifier: [{ system: 'urn:unknown-param', value: '1' }] }),
      await create({ resourceType: 'Patient', identifier: [{ system: 'urn:unknown-param', value: '2' }] }),
    ];
    await create({ resourceType: 'Patient', identifier: [{ system: 'urn:unknown-param-other', value: '1' }] });
  });

  it('ignores an unknown parameter and reports it in an outcome entry (lenient handling)', async () => {
    const res = await server.fhir(q('Patient', ['identifier', 'urn:unknown-param|'], ['foo', 'bar']));
    expect(res.status).toBe(200);
    expect(sorted(matchIds(res.body))).toEqual(sorted(known));
    const outcomes = res.body.entry.filter((e: Json) => e.search?.mode === 'outcome');
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].resource.resourceType).toBe('OperationOutcome');
    const issue = outcomes[0].resource.issue[0];
    expect(issue.severity).toBe('warning');
    expect(issue.expression).toEqual(['foo']);
    expect(res.body.entry.filter((e: Json) => e.search?.mode === 'match')).toHaveLength(2);
  });

  it('rejects an unknown parameter with 400 under Prefer: handling=strict', async () => {
    const res = await server.fhir(q('Patient', ['identifier', 'urn:unknown-param|'], ['foo', 'bar']), { headers: { prefer: 'handling=strict' } });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].severity).toBe('error');
    expect(res.body.issue[0].expression).toEqual(['foo']);
    // known parameters are fine under strict handling
    expect(await searchIds(q('Patient', ['identifier', 'urn:unknown-param|']), { headers: { prefer: 'handling=strict' } })).toEqual(sorted(known));
  });

  it('answers malformed values with 400 OperationOutcomes', async () => {
    await expectInvalidSearch(q('Patient', ['birthdate', '1960-13-01']));
    await expectInvalidSearch(q('Patient', ['birthdate', 'gtyesterday']));
    await expectInvalidSearch(q('Patient', ['_lastUpdated', '2024-02-30']));
    await expectInvalidSearch(q('RiskAssessment', ['probability', 'abc']));
    await expectInvalidSearch(q('RiskAssessment', ['probability', 'gt0.5.5']));
    await expectInvalidSearch(q('Observation', ['value-quantity', 'gtabc|http://unitsofmeasure.org|mm[Hg]']));
    await expectInvalidSearch(q('Patient', ['_count', 'abc']));
    await expectInvalidSearch(q('Patient', ['_count', '-5']));
    await expectInvalidSearch(q('Patient', ['_total', 'sometimes']));
    await expectInvalidSearch(q('Patient', ['gender:missing', 'maybe']));
    await expectInvalidSearch(q('Patient', ['identifier', 'a|b|c']));
    await expectInvalidSearch(q('Patient', ['_id', 'not an id']));
  });

  it('answers a NUL character in a search value with 400, not a server error', async () => {
    for (const [name, value] of [['family', 'a\u0000b'], ['identifier', 'urn:x|a\u0000b'], ['subject', 'Patient/a\u0000b']] as const) {
      const type = name === 'subject' ? 'Observation' : 'Patient';
      const res = await server.fhir(q(type, [name, value]));
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });
});

describe('POST [type]/_search', () => {
  it('takes form-encoded parameters and finds what GET finds', async () => {
    const wanted = await create({ resourceType: 'Patient', gender: 'female', identifier: [{ system: 'urn:post-search', value: '1' }] });
    await create({ resourceType: 'Patient', gender: 'male', identifier: [{ system: 'urn:post-search', value: '2' }] });
    await create({ resourceType: 'Patient', gender: 'female', identifier: [{ system: 'urn:post-search-other', value: '1' }] });
    const form = { headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    const body = new URLSearchParams([['identifier', 'urn:post-search|'], ['gender', 'female']]).toString();
    const res = await server.fhir('Patient/_search', { method: 'POST', body, ...form });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('searchset');
    expect(matchIds(res.body)).toEqual([wanted]);
    expect(await searchIds(q('Patient', ['identifier', 'urn:post-search|'], ['gender', 'female']))).toEqual([wanted]);
    // URL parameters and form parameters are combined
    const mixed = await server.fhir(`Patient/_search?${new URLSearchParams([['gender', 'female']])}`, { method: 'POST', body: 'identifier=urn%3Apost-search%7C', ...form });
    expect(mixed.status).toBe(200);
    expect(matchIds(mixed.body)).toEqual([wanted]);
  });
});

describe('only current versions are searched', () => {
  it('does not find a resource by an old value after update, nor at all after delete', async () => {
    const created = (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ family: 'Versionsalt' }], gender: 'male' } })).body;
    const bystander = await create({ resourceType: 'Patient', name: [{ family: 'Versionsneu' }] });
    expect(await searchIds(q('Patient', ['family', 'Versionsalt']))).toEqual([created.id]);

    const updated = await server.fhir(`Patient/${created.id}`, { method: 'PUT', body: { ...created, name: [{ family: 'Versionsneu' }], gender: 'female' } });
    expect(updated.status).toBe(200);
    expect(await searchIds(q('Patient', ['family', 'Versionsalt']))).toEqual([]);
    expect(await searchIds(q('Patient', ['family', 'Versionsneu']))).toEqual(sorted([created.id, bystander]));
    expect(await searchAmong(q('Patient', ['gender', 'male']), [created.id])).toEqual([]);

    expect((await server.fhir(`Patient/${created.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await searchIds(q('Patient', ['family', 'Versionsneu']))).toEqual([bystander]);
    expect(await searchIds(q('Patient', ['_id', created.id]))).toEqual([]);
    expect(await searchAmong(q('Patient', ['gender:missing', 'true']), [created.id])).toEqual([]);
    const total = await server.fhir(q('Patient', ['family', 'Versions'], ['_summary', 'count']));
    expect(total.body.total).toBe(1);
  });

  it('pages reverse chains without holes when a referenced resource was deleted', async () => {
    // Pages are picked from index entries; `_has` lists reference targets, which may be gone.
    const code = { coding: [{ system: 'urn:has-deleted', code: 'x1' }] };
    const patients = [];
    for (const gender of ['female', 'female', 'male', 'female']) patients.push(await create({ resourceType: 'Patient', gender, name: [{ family: 'Hasdeleted' }] }));
    for (const id of patients) await create({ resourceType: 'Condition', subject: { reference: `Patient/${id}` }, code });
    expect((await server.fhir(`Patient/${patients[0]}`, { method: 'DELETE' })).status).toBe(200);
    const live = sorted(patients.slice(1));
    const pages: string[][] = [];
    let url: string | undefined = q('Patient', ['_has:Condition:subject:code', 'urn:has-deleted|x1'], ['_count', '1']);
    while (url) {
      const page = await server.fhir(url.replace(`${server.fhirBaseUrl}/`, ''));
      expect(page.status).toBe(200);
      pages.push(matchIds(page.body));
      url = page.body.link?.find((l: { relation: string }) => l.relation === 'next')?.url;
    }
    expect(pages).toEqual(live.map((id) => [id]));
    expect(await searchIds(q('Patient', ['gender', 'female'], ['_has:Condition:subject:code', 'urn:has-deleted|x1']))).toEqual(sorted([patients[1]!, patients[3]!]));
    expect(await searchIds(q('Patient', ['family', 'Hasdeleted'], ['_sort', 'gender']))).toHaveLength(3);
  });
});
