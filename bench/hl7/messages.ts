/**
 * Synthetic ADT^A03 discharge messages for the HL7 benchmark (issue 3: "sustained ADT^A03
 * (3 DG1, 1 AL1, 5 OBX)"): Chinese names and addresses, a valid resident ID, an inpatient number
 * and visit number per patient, three ICD-10 国临版 diagnoses, a drug allergy and five vital-sign
 * OBX. Deterministic from a seed; each message has a unique MSH-10. Patients repeat (a discharge
 * after each stay), so the run exercises updates of existing Patients and Encounters too.
 */
import { residentIdCheckCharacter } from '../../src/hl7-adapters/map/resident-id.ts';
import { prng } from '../lib/payloads.ts';

const FAMILY = ['张', '王', '李', '赵', '刘', '陈', '杨', '黄', '周', '吴', '欧阳', '司马'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛'];
const DIAGNOSES = [
  ['I10.x00', '原发性高血压'], ['E11.900', '2型糖尿病'], ['I50.900', '心力衰竭'], ['J44.100', '慢性阻塞性肺病伴急性加重'],
  ['N18.500', '慢性肾脏病5期'], ['I25.100', '冠状动脉粥样硬化性心脏病'], ['E78.500', '高脂血症'], ['I48.x00', '心房颤动'],
];
const VITALS: Array<[string, string, string, number, number]> = [
  ['8480-6', '收缩压', 'mm[Hg]', 100, 180], ['8462-4', '舒张压', 'mm[Hg]', 60, 110], ['8867-4', '心率', '/min', 55, 110],
  ['8310-5', '体温', 'Cel', 36, 39], ['59408-5', '血氧饱和度', '%', 88, 100],
];

function residentId(n: number): string {
  const birth = `19${String(40 + (n % 50)).padStart(2, '0')}${String(1 + (n % 12)).padStart(2, '0')}${String(1 + (n % 28)).padStart(2, '0')}`;
  const first17 = `110105${birth}${String(n % 1000).padStart(3, '0')}`;
  return first17 + residentIdCheckCharacter(first17);
}

export class AdtA03Generator {
  readonly #rand: () => number;
  readonly #patients: number;
  #sequence = 0;
  readonly #runId: string;

  constructor(options: { seed: number; patients: number; runId: string }) {
    this.#rand = prng(options.seed);
    this.#patients = options.patients;
    this.#runId = options.runId;
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#rand() * list.length)] as T;
  }

  /** The next message, for a random known patient, as UTF-8 bytes (segments separated by CR). */
  next(): Buffer {
    return this.#message(Math.floor(this.#rand() * this.#patients));
  }

  /** A message for patient `n` (to seed every patient once). */
  first(n: number): Buffer {
    return this.#message(n);
  }

  #message(n: number): Buffer {
    const seq = ++this.#sequence;
    const mrn = `ZY${String(n).padStart(8, '0')}`;
    const visit = `ZYLS${String(n).padStart(8, '0')}-${Math.floor(seq / this.#patients)}`;
    const family = FAMILY[n % FAMILY.length] as string;
    const given = GIVEN[(n >> 3) % GIVEN.length] as string;
    const diagnoses = [0, 1, 2].map(() => this.#pick(DIAGNOSES));
    const segments = [
      `MSH|^~\\&|HIS|BENCH^基准医院|CAREBRIDGE|CB|20240322100000||ADT^A03^ADT_A03|${this.#runId}-${seq}|P|2.5||||||UNICODE UTF-8`,
      `EVN|A03|20240322100000|||0123^李^建国`,
      `PID|1||${mrn}^^^&2.16.156.10011.1.12&ISO^MR~${residentId(n)}^^^&2.16.156.10011.1.3&ISO^NNCHN||${family}${given}^^^^^^L||${residentId(n).slice(6, 14)}|${n % 2 ? 'M' : 'F'}|||北京市朝阳区建国路${n % 200}号^^北京市^北京市^100022^CHN^H||^PRN^CP^^86^^138${String(n).padStart(8, '0')}|||||||||01^汉族^GB3304`,
      `PV1|1|I|0501^0501-${n % 40}^0${n % 4}^BENCH^^^^^心内科病区|R|||1024^王^伟|||CAR^心血管内科^L|||||||||${visit}^^^BENCH^VN|||||||||||||||||1^医嘱离院^CN_LYFS||||||||20240315090000|20240322100000`,
      `AL1|1|DA^药物过敏^HL70127|PCN^青霉素^L|SV^严重^HL70128|皮疹|20100101`,
      ...diagnoses.map(([code, text], i) => `DG1|${i + 1}||${code}^${text}^ICD10-CN-NHC-2.0||20240322100000|F^出院诊断^HL70052|||||||||${i + 1}|1024^王^伟`),
      ...VITALS.map(([code, text, unit, low, high], i) => {
        const value = (low + this.#rand() * (high - low)).toFixed(unit === 'Cel' ? 1 : 0);
        return `OBX|${i + 1}|NM|${code}^${text}^LN||${value}|${unit}^^UCUM|||||F|||20240322080000`;
      }),
    ];
    return Buffer.from(segments.join('\r'), 'utf8');
  }
}
