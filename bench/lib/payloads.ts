/**
 * Realistic Patient payloads for the create/read/update scenarios: a Chinese official name
 * (family-first, e.g. 王小明) with its pinyin form, hospital MRN and resident-ID identifiers,
 * a mobile phone and e-mail, a Chinese postal address, marital status, language and an emergency
 * contact, about 2 kB of JSON each. They are generated from a seeded PRNG, so every run sends the
 * same bodies, and serialised before timing so the load generator spends no time building them.
 */
import type { Patient } from '@medplum/fhirtypes';

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FAMILY: Array<[string, string]> = [
  ['王', 'Wang'], ['李', 'Li'], ['张', 'Zhang'], ['刘', 'Liu'], ['陈', 'Chen'], ['杨', 'Yang'], ['黄', 'Huang'], ['赵', 'Zhao'],
  ['吴', 'Wu'], ['周', 'Zhou'], ['徐', 'Xu'], ['孙', 'Sun'], ['马', 'Ma'], ['朱', 'Zhu'], ['胡', 'Hu'], ['郭', 'Guo'], ['欧阳', 'Ouyang'],
];
const GIVEN: Array<[string, string, 'male' | 'female']> = [
  ['伟', 'Wei', 'male'], ['芳', 'Fang', 'female'], ['秀英', 'Xiuying', 'female'], ['敏', 'Min', 'female'], ['静', 'Jing', 'female'],
  ['强', 'Qiang', 'male'], ['磊', 'Lei', 'male'], ['军', 'Jun', 'male'], ['艳', 'Yan', 'female'], ['杰', 'Jie', 'male'],
  ['涛', 'Tao', 'male'], ['小明', 'Xiaoming', 'male'], ['秀兰', 'Xiulan', 'female'], ['志强', 'Zhiqiang', 'male'], ['建华', 'Jianhua', 'male'],
  ['小红', 'Xiaohong', 'female'], ['俊杰', 'Junjie', 'male'], ['丽娟', 'Lijuan', 'female'], ['海燕', 'Haiyan', 'female'], ['国栋', 'Guodong', 'male'],
];
const PLACES: Array<{ state: string; city: string; district: string; postalCode: string; region: string; streets: string[] }> = [
  { state: '北京市', city: '北京市', district: '朝阳区', postalCode: '100020', region: '110105', streets: ['建国路', '朝阳北路', '东三环中路'] },
  { state: '上海市', city: '上海市', district: '浦东新区', postalCode: '200120', region: '310115', streets: ['世纪大道', '张杨路', '陆家嘴环路'] },
  { state: '广东省', city: '广州市', district: '天河区', postalCode: '510620', region: '440106', streets: ['天河路', '体育西路', '黄埔大道西'] },
  { state: '广东省', city: '深圳市', district: '南山区', postalCode: '518057', region: '440305', streets: ['深南大道', '科技园路', '南海大道'] },
  { state: '四川省', city: '成都市', district: '武侯区', postalCode: '610041', region: '510107', streets: ['人民南路', '科华北路', '武侯祠大街'] },
  { state: '浙江省', city: '杭州市', district: '西湖区', postalCode: '310012', region: '330106', streets: ['文三路', '天目山路', '西溪路'] },
];
const RELATIONS: Array<[string, string]> = [['C', 'Emergency Contact'], ['N', 'Next-of-Kin']];

const MRN_SYSTEM = 'https://carebridge.example.org/fhir/sid/mrn';
const RESIDENT_ID_SYSTEM = 'https://carebridge.example.org/fhir/sid/cn-resident-id';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

function digits(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 10);
  return s;
}

/** 18-digit resident identity number with its ISO 7064 MOD 11-2 check character (GB 11643-1999). */
function residentId(region: string, birthDate: string, sequence: string): string {
  const body = `${region}${birthDate.replaceAll('-', '')}${sequence}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((acc, d, i) => acc + Number(d) * (weights[i] as number), 0);
  return body + '10X98765432'[sum % 11];
}

export function mobile(rand: () => number): string {
  return `+86 1${pick(rand, ['35', '38', '39', '50', '58', '86', '88'])}${digits(rand, 1)} ${digits(rand, 4)} ${digits(rand, 4)}`;
}

/** One realistic Patient without id or meta. */
export function makePatient(rand: () => number): Patient {
  const [family, familyPinyin] = pick(rand, FAMILY);
  const [given, givenPinyin, gender] = pick(rand, GIVEN);
  const place = pick(rand, PLACES);
  const year = 1935 + Math.floor(rand() * 85);
  const birthDate = `${year}-${String(1 + Math.floor(rand() * 12)).padStart(2, '0')}-${String(1 + Math.floor(rand() * 28)).padStart(2, '0')}`;
  const [contactFamily] = pick(rand, FAMILY);
  const [contactGiven] = pick(rand, GIVEN);
  const [relationCode, relationDisplay] = pick(rand, RELATIONS);
  const married = rand() < 0.6;
  return {
    resourceType: 'Patient',
    identifier: [
      {
        use: 'usual',
        type: { coding: [{ system: V2_0203, code: 'MR', display: 'Medical record number' }], text: '病历号' },
        system: MRN_SYSTEM,
        value: `MRN${digits(rand, 8)}`,
        assigner: { display: '北京协和医院' },
      },
      {
        use: 'official',
        type: { coding: [{ system: V2_0203, code: 'NI', display: 'National unique individual identifier' }], text: '居民身份证' },
        system: RESIDENT_ID_SYSTEM,
        value: residentId(place.region, birthDate, digits(rand, 3)),
      },
    ],
    active: true,
    name: [
      { use: 'official', text: `${family}${given}`, family, given: [given] },
      { use: 'usual', text: `${givenPinyin} ${familyPinyin}`, family: familyPinyin, given: [givenPinyin] },
    ],
    telecom: [
      { system: 'phone', value: mobile(rand), use: 'mobile', rank: 1 },
      { system: 'email', value: `${givenPinyin.toLowerCase()}.${familyPinyin.toLowerCase()}${digits(rand, 3)}@example.cn`, use: 'home' },
    ],
    gender,
    birthDate,
    address: [
      {
        use: 'home',
        type: 'physical',
        text: `${place.state === place.city ? '' : place.state}${place.city}${place.district}${pick(rand, place.streets)}${1 + Math.floor(rand() * 300)}号`,
        line: [`${pick(rand, place.streets)}${1 + Math.floor(rand() * 300)}号`, `${1 + Math.floor(rand() * 30)}栋${1 + Math.floor(rand() * 20)}0${1 + Math.floor(rand() * 6)}室`],
        city: place.city,
        district: place.district,
        state: place.state,
        postalCode: place.postalCode,
        country: 'CN',
      },
    ],
    maritalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: married ? 'M' : 'S', display: married ? 'Married' : 'Never Married' }],
      text: married ? '已婚' : '未婚',
    },
    contact: [
      {
        relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: relationCode, display: relationDisplay }] }],
        name: { use: 'official', text: `${contactFamily}${contactGiven}`, family: contactFamily, given: [contactGiven] },
        telecom: [{ system: 'phone', value: mobile(rand), use: 'mobile' }],
      },
    ],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'zh-CN', display: 'Chinese (China)' }], text: '中文' }, preferred: true }],
  };
}

export function makePatients(seed: number, count: number): Patient[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => makePatient(rand));
}

/**
 * A PUT body for `PUT /Patient/{id}`, serialised once with placeholders: every update carries the
 * full resource and a new mobile number, so each one really changes the resource (an identical
 * body would be answered "unchanged" without writing a version).
 */
export class UpdateTemplate {
  private readonly parts: string[];

  constructor(patient: Patient) {
    const { resourceType, ...rest } = patient;
    // id first, then the rest in order: the placeholders appear as ID … PHONE.
    const body = JSON.stringify({ resourceType, id: '\u0000ID\u0000', ...rest, telecom: [{ system: 'phone', value: '\u0000PHONE\u0000', use: 'mobile', rank: 1 }, ...(patient.telecom ?? []).slice(1)] });
    this.parts = body.split(/\\u0000(?:ID|PHONE)\\u0000/);
    if (this.parts.length !== 3) throw new Error('update template placeholders not found');
  }

  body(id: string, sequence: number): string {
    const n = String(sequence % 100_000_000).padStart(8, '0');
    return `${this.parts[0]}${id}${this.parts[1]}+86 139 ${n.slice(0, 4)} ${n.slice(4)}${this.parts[2]}`;
  }
}
