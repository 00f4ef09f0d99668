/**
 * Vocabulary of the search dataset: Chinese family and given names with their pinyin and
 * realistic frequencies, regions for resident ID numbers, ICD-10 (China) diagnoses with their
 * prevalence among hospital patients, LOINC vital signs and labs, and the ATC-coded drugs
 * prescribed for each chronic diagnosis. Plain data; the generator decides how it is combined.
 */

export const SYSTEMS = {
  residentId: 'urn:oid:2.16.156.10011.1.3',
  mrn: 'urn:oid:1.2.156.112604.1.2.1',
  practitionerId: 'urn:oid:1.2.156.112604.1.2.9',
  icd10cn: 'http://hl7.org/fhir/sid/icd-10-cn',
  loinc: 'http://loinc.org',
  ucum: 'http://unitsofmeasure.org',
  atc: 'http://www.whocc.no/atc',
  v2_0203: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  snomed: 'http://snomed.info/sct',
  obsCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  condClinical: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
  condVerification: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  condCategory: 'http://terminology.hl7.org/CodeSystem/condition-category',
  medReqCategory: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category',
  taskCode: 'http://hl7.org/fhir/CodeSystem/task-code',
} as const;

/**
 * The most common surnames with their approximate share of the population (per cent, 2020
 * census order), plus two compound surnames so multi-character family names occur.
 */
export const FAMILY_NAMES: ReadonlyArray<readonly [han: string, pinyin: string, weight: number]> = [
  ['王', 'Wang', 7.1], ['李', 'Li', 7.0], ['张', 'Zhang', 6.8], ['刘', 'Liu', 5.4], ['陈', 'Chen', 4.5],
  ['杨', 'Yang', 3.2], ['黄', 'Huang', 2.3], ['赵', 'Zhao', 2.2], ['吴', 'Wu', 2.0], ['周', 'Zhou', 1.9],
  ['徐', 'Xu', 1.5], ['孙', 'Sun', 1.4], ['马', 'Ma', 1.3], ['朱', 'Zhu', 1.2], ['胡', 'Hu', 1.2],
  ['郭', 'Guo', 1.1], ['何', 'He', 1.1], ['林', 'Lin', 1.0], ['高', 'Gao', 1.0], ['罗', 'Luo', 0.9],
  ['郑', 'Zheng', 0.8], ['梁', 'Liang', 0.8], ['谢', 'Xie', 0.7], ['宋', 'Song', 0.6], ['唐', 'Tang', 0.6],
  ['许', 'Xu', 0.6], ['韩', 'Han', 0.5], ['冯', 'Feng', 0.5], ['邓', 'Deng', 0.5], ['曹', 'Cao', 0.5],
  ['彭', 'Peng', 0.5], ['曾', 'Zeng', 0.5], ['肖', 'Xiao', 0.5], ['田', 'Tian', 0.4], ['董', 'Dong', 0.4],
  ['欧阳', 'Ouyang', 0.05], ['司马', 'Sima', 0.02],
];

/** Characters used in given names (one or two of them), by the gender they are most used for. */
export const GIVEN_CHARS: Record<'male' | 'female', ReadonlyArray<readonly [han: string, pinyin: string]>> = {
  male: [
    ['伟', 'wei'], ['强', 'qiang'], ['磊', 'lei'], ['军', 'jun'], ['勇', 'yong'], ['杰', 'jie'], ['涛', 'tao'], ['明', 'ming'],
    ['超', 'chao'], ['华', 'hua'], ['建', 'jian'], ['国', 'guo'], ['志', 'zhi'], ['文', 'wen'], ['斌', 'bin'], ['鹏', 'peng'],
    ['浩', 'hao'], ['宇', 'yu'], ['俊', 'jun'], ['峰', 'feng'], ['海', 'hai'], ['波', 'bo'], ['辉', 'hui'], ['刚', 'gang'],
  ],
  female: [
    ['芳', 'fang'], ['娜', 'na'], ['敏', 'min'], ['静', 'jing'], ['丽', 'li'], ['艳', 'yan'], ['娟', 'juan'], ['霞', 'xia'],
    ['秀', 'xiu'], ['英', 'ying'], ['玲', 'ling'], ['桂', 'gui'], ['兰', 'lan'], ['婷', 'ting'], ['雪', 'xue'], ['慧', 'hui'],
    ['梅', 'mei'], ['琳', 'lin'], ['颖', 'ying'], ['欣', 'xin'], ['红', 'hong'], ['燕', 'yan'], ['萍', 'ping'], ['华', 'hua'],
  ],
};

/** Administrative divisions (GB/T 2260 codes) for addresses and the first 6 digits of resident IDs. */
export const REGIONS: ReadonlyArray<{ code: string; state: string; city: string; district: string; postalCode: string; weight: number }> = [
  { code: '110105', state: '北京市', city: '北京市', district: '朝阳区', postalCode: '100020', weight: 6 },
  { code: '110108', state: '北京市', city: '北京市', district: '海淀区', postalCode: '100080', weight: 5 },
  { code: '310115', state: '上海市', city: '上海市', district: '浦东新区', postalCode: '200120', weight: 5 },
  { code: '440106', state: '广东省', city: '广州市', district: '天河区', postalCode: '510620', weight: 3 },
  { code: '440305', state: '广东省', city: '深圳市', district: '南山区', postalCode: '518057', weight: 3 },
  { code: '510107', state: '四川省', city: '成都市', district: '武侯区', postalCode: '610041', weight: 3 },
  { code: '330106', state: '浙江省', city: '杭州市', district: '西湖区', postalCode: '310012', weight: 3 },
  { code: '130102', state: '河北省', city: '石家庄市', district: '长安区', postalCode: '050011', weight: 4 },
  { code: '370102', state: '山东省', city: '济南市', district: '历下区', postalCode: '250011', weight: 4 },
  { code: '410105', state: '河南省', city: '郑州市', district: '金水区', postalCode: '450003', weight: 4 },
  { code: '420106', state: '湖北省', city: '武汉市', district: '武昌区', postalCode: '430061', weight: 3 },
  { code: '320106', state: '江苏省', city: '南京市', district: '鼓楼区', postalCode: '210008', weight: 3 },
];

export interface Diagnosis {
  code: string;
  display: string;
  /** Share of patients who have it (chronic) or are admitted with it (acute). */
  prevalence: number;
  chronic: boolean;
  /** ATC drugs prescribed for it. */
  drugs: ReadonlyArray<readonly [atc: string, display: string, text: string, doseMg: number]>;
}

export const DIAGNOSES: readonly Diagnosis[] = [
  { code: 'I10', display: '特发性(原发性)高血压', prevalence: 0.32, chronic: true, drugs: [['C08CA01', 'amlodipine', '苯磺酸氨氯地平片', 5], ['C09AA02', 'enalapril', '马来酸依那普利片', 10]] },
  { code: 'E11.9', display: '2型糖尿病，不伴有并发症', prevalence: 0.14, chronic: true, drugs: [['A10BA02', 'metformin', '盐酸二甲双胍片', 500], ['A10BB09', 'gliclazide', '格列齐特缓释片', 30]] },
  { code: 'E78.5', display: '高脂血症', prevalence: 0.16, chronic: true, drugs: [['C10AA05', 'atorvastatin', '阿托伐他汀钙片', 20]] },
  { code: 'I25.1', display: '动脉硬化性心脏病', prevalence: 0.08, chronic: true, drugs: [['B01AC06', 'acetylsalicylic acid', '阿司匹林肠溶片', 100]] },
  { code: 'I50.9', display: '心力衰竭', prevalence: 0.05, chronic: true, drugs: [['C03CA01', 'furosemide', '呋塞米片', 20]] },
  { code: 'J44.9', display: '慢性阻塞性肺病', prevalence: 0.06, chronic: true, drugs: [['R03AK06', 'salmeterol and fluticasone', '沙美特罗替卡松粉吸入剂', 0.5]] },
  { code: 'N18.3', display: '慢性肾脏病3期', prevalence: 0.04, chronic: true, drugs: [['C09CA01', 'losartan', '氯沙坦钾片', 50]] },
  { code: 'I63.9', display: '脑梗死', prevalence: 0.03, chronic: false, drugs: [['B01AC04', 'clopidogrel', '硫酸氢氯吡格雷片', 75]] },
  { code: 'J18.9', display: '肺炎', prevalence: 0.05, chronic: false, drugs: [['J01DD04', 'ceftriaxone', '注射用头孢曲松钠', 2000]] },
  { code: 'K29.7', display: '胃炎', prevalence: 0.05, chronic: false, drugs: [['A02BC01', 'omeprazole', '奥美拉唑肠溶胶囊', 20]] },
  { code: 'M54.5', display: '下背痛', prevalence: 0.04, chronic: false, drugs: [['M01AE01', 'ibuprofen', '布洛芬缓释胶囊', 300]] },
  { code: 'S72.0', display: '股骨颈骨折', prevalence: 0.01, chronic: false, drugs: [['N02AX02', 'tramadol', '盐酸曲马多片', 50]] },
];

export interface ObservationKind {
  code: string;
  display: string;
  text: string;
  category: 'vital-signs' | 'laboratory';
  unit: string;
  ucum: string;
}

export const OBSERVATIONS = {
  systolic: { code: '8480-6', display: 'Systolic blood pressure', text: '收缩压', category: 'vital-signs', unit: 'mmHg', ucum: 'mm[Hg]' },
  diastolic: { code: '8462-4', display: 'Diastolic blood pressure', text: '舒张压', category: 'vital-signs', unit: 'mmHg', ucum: 'mm[Hg]' },
  heartRate: { code: '8867-4', display: 'Heart rate', text: '心率', category: 'vital-signs', unit: '次/分', ucum: '/min' },
  weight: { code: '29463-7', display: 'Body weight', text: '体重', category: 'vital-signs', unit: 'kg', ucum: 'kg' },
  glucose: { code: '2339-0', display: 'Glucose [Mass/volume] in Blood', text: '血糖', category: 'laboratory', unit: 'mg/dL', ucum: 'mg/dL' },
  hba1c: { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', text: '糖化血红蛋白', category: 'laboratory', unit: '%', ucum: '%' },
} as const satisfies Record<string, ObservationKind>;

/** `Observation?code=…&value-quantity=gt…` searches whose exact match counts the generator keeps. */
export const VALUE_QUERIES: ReadonlyArray<readonly [code: string, threshold: number]> = [
  ['8480-6', 140],
  ['8480-6', 160],
  ['8480-6', 180],
  ['8462-4', 90],
  ['8867-4', 100],
  ['2339-0', 200],
  ['4548-4', 7],
];

/** `Patient?name=…` prefixes whose exact match counts the generator keeps: surnames in Han characters, pinyin, partial pinyin. */
export const NAME_QUERIES: readonly string[] = ['张', '王', '李', '刘', '陈', '欧阳', '张伟', '王芳', 'Zhang', 'Wang', 'Li', 'Chen', 'Ouyang', 'zha', 'hua', 'xiu'];
