/**
 * The HL7 v2 traffic of the follow-up benchmark, with CURRENT timestamps (the follow-up engine
 * ignores discharges older than FOLLOWUP_BACKFILL_DAYS, 30 by default, so the fixed 2024 dates of
 * bench/hl7/messages.ts would create no plan): an ADT^A01 inpatient admission a few days ago, the
 * ADT^A03 discharge of that stay "now", and ORU^R01 lab results during the stay. Times are written
 * in the hospital's zone with an explicit offset (`YYYYMMDDHHMMSS+0800`). Each patient's PID (name,
 * valid resident ID, MRN `ZY{n}` with system `&2.16.156.10011.1.12&ISO^MR`, address) is the one
 * bench/hl7/messages.ts generates, so both benchmarks describe the same synthetic population.
 */
import { AdtA03Generator } from '../hl7/messages.ts';
import { prng } from '../lib/payloads.ts';

/** The hospital's UTC offset (Asia/Shanghai, no daylight saving time): +08:00. */
const OFFSET_MINUTES = 8 * 60;

/** `YYYYMMDDHHMMSS+0800`: the local time in the hospital's zone with its offset. */
export function hl7Time(epochMs: number): string {
  const local = new Date(epochMs + OFFSET_MINUTES * 60_000);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${local.getUTCFullYear()}${p(local.getUTCMonth() + 1)}${p(local.getUTCDate())}${p(local.getUTCHours())}${p(local.getUTCMinutes())}${p(local.getUTCSeconds())}+0800`;
}

/** Discharge diagnoses (ICD-10 国临版 2.0); the first three select the hypertension, diabetes and heart-failure protocols. */
const DIAGNOSES: ReadonlyArray<readonly [string, string]> = [
  ['I10.x00', '原发性高血压'], ['E11.900', '2型糖尿病'], ['I50.900', '心力衰竭'], ['J44.100', '慢性阻塞性肺病伴急性加重'],
  ['N18.500', '慢性肾脏病5期'], ['I25.100', '冠状动脉粥样硬化性心脏病'], ['E78.500', '高脂血症'], ['I48.x00', '心房颤动'],
];
const SERVICES = ['CAR^心血管内科^L', 'END^内分泌科^L', 'RES^呼吸内科^L', 'NEP^肾内科^L'];
/** Discharge vital signs: LOINC, text, unit, low, high (inside the alert thresholds). */
const VITALS: ReadonlyArray<readonly [string, string, string, number, number]> = [
  ['8480-6', '收缩压', 'mm[Hg]', 110, 150], ['8462-4', '舒张压', 'mm[Hg]', 65, 95], ['8867-4', '心率', '/min', 60, 95], ['59408-5', '血氧饱和度', '%', 94, 99],
];
/** Lab panels of the ORU load (normal values): OBR-4, then LOINC, text, unit, low, high, reference range. */
const PANELS: ReadonlyArray<{ service: string; results: ReadonlyArray<readonly [string, string, string, number, number, string]> }> = [
  { service: 'CBC^血常规^L', results: [['718-7', '血红蛋白', 'g/L', 125, 155, '115-150'], ['6690-2', '白细胞计数', '10*9/L', 4.5, 8.5, '3.5-9.5'], ['777-3', '血小板计数', '10*9/L', 160, 300, '125-350']] },
  { service: 'BMP^电解质+肾功能^L', results: [['2951-2', '钠', 'mmol/L', 137, 144, '137-147'], ['2823-3', '钾', 'mmol/L', 3.7, 4.9, '3.5-5.3'], ['2160-0', '肌酐', 'umol/L', 60, 100, '57-111']] },
];
const FACILITY = 'BENCH^基准医院';

/** A segment from its name and its non-empty fields by number (MSH counts MSH-2 as field 1 of the array). */
function segment(name: string, fields: Record<number, string | undefined>): string {
  const last = Math.max(0, ...Object.keys(fields).map(Number));
  const out: string[] = [name];
  for (let i = 1; i <= last; i++) out.push(fields[i] ?? '');
  return out.join('|');
}

const msh = (time: string, type: string, controlId: string) => `MSH|^~\\&|HIS|${FACILITY}|CAREBRIDGE|CB|${time}||${type}|${controlId}|P|2.5||||||UNICODE UTF-8`;

/** One inpatient of the benchmark: who, which stay, when admitted, what was wrong. */
export interface Inpatient {
  n: number;
  mrn: string;
  visit: string;
  /** Admission time (epoch ms): 2–9 days before the run. */
  admittedAt: number;
  diagnoses: ReadonlyArray<readonly [string, string]>;
  service: string;
  /** PV1-4: `E` emergency (an acute admission for LACE) or `R` routine. */
  admissionType: 'E' | 'R';
}

export class FollowUpMessages {
  readonly #rand: () => number;
  readonly #pids: AdtA03Generator;
  readonly #runId: string;
  #sequence = 0;

  constructor(options: { seed: number; runId: string }) {
    this.#rand = prng(options.seed);
    // Used only for its PID segment (patient n's demographics); its own dates are not used.
    this.#pids = new AdtA03Generator({ seed: options.seed, patients: 1, runId: options.runId });
    this.#runId = options.runId;
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.#rand() * list.length)] as T;
  }

  #controlId(): string {
    return `${this.#runId}-${++this.#sequence}`;
  }

  #pid(n: number): string {
    const pid = this.#pids.first(n).toString('utf8').split('\r').find((s) => s.startsWith('PID|'));
    if (!pid) throw new Error('bench/hl7/messages.ts produced no PID segment');
    return pid;
  }

  /** Patient n's stay: admitted 2–9 days before `now`, 2 or 3 distinct discharge diagnoses. */
  inpatient(n: number, now: number): Inpatient {
    const count = 2 + Math.floor(this.#rand() * 2);
    const diagnoses: Array<readonly [string, string]> = [];
    while (diagnoses.length < count) {
      const d = this.#pick(DIAGNOSES);
      if (!diagnoses.includes(d)) diagnoses.push(d);
    }
    const days = 2 + this.#rand() * 7;
    return {
      n,
      mrn: `ZY${String(n).padStart(8, '0')}`,
      visit: `ZYLS${String(n).padStart(8, '0')}-${this.#runId}`,
      admittedAt: Math.round((now - days * 86_400_000) / 1000) * 1000,
      diagnoses,
      service: this.#pick(SERVICES),
      admissionType: this.#rand() < 0.6 ? 'E' : 'R',
    };
  }

  #pv1(p: Inpatient, dischargedAt: number | undefined): string {
    return segment('PV1', {
      1: '1', 2: 'I', 3: `0501^0501-${p.n % 40}^0${p.n % 4}^BENCH^^^^^病区`, 4: p.admissionType, 7: '1024^王^伟', 10: p.service, 19: `${p.visit}^^^BENCH^VN`,
      ...(dischargedAt === undefined ? {} : { 36: '1^医嘱离院^CN_LYFS', 45: hl7Time(dischargedAt) }),
      44: hl7Time(p.admittedAt),
    });
  }

  /** ADT^A01: the admission (Encounter in-progress, class IMP) with the first diagnosis as admitting diagnosis. */
  admit(p: Inpatient, now = Date.now()): Buffer {
    const [code, text] = p.diagnoses[0] as readonly [string, string];
    return Buffer.from([
      msh(hl7Time(now), 'ADT^A01^ADT_A01', this.#controlId()),
      `EVN|A01|${hl7Time(p.admittedAt)}|||0123^李^建国`,
      this.#pid(p.n),
      this.#pv1(p, undefined),
      `AL1|1|DA^药物过敏^HL70127|PCN^青霉素^L|SV^严重^HL70128|皮疹|20100101`,
      `DG1|1||${code}^${text}^ICD10-CN-NHC-2.0||${hl7Time(p.admittedAt)}|A^入院诊断^HL70052|||||||||1|1024^王^伟`,
    ].join('\r'), 'utf8');
  }

  /** ADT^A03: the discharge at `now` (MSH-7 = EVN-2 = PV1-45), discharge diagnoses (DG1-6 F), vital signs, disposition. */
  discharge(p: Inpatient, now = Date.now()): Buffer {
    const t = hl7Time(now);
    const measured = hl7Time(now - 2 * 3_600_000);
    return Buffer.from([
      msh(t, 'ADT^A03^ADT_A03', this.#controlId()),
      `EVN|A03|${t}|||0123^李^建国`,
      this.#pid(p.n),
      this.#pv1(p, now),
      `AL1|1|DA^药物过敏^HL70127|PCN^青霉素^L|SV^严重^HL70128|皮疹|20100101`,
      ...p.diagnoses.map(([code, text], i) => `DG1|${i + 1}||${code}^${text}^ICD10-CN-NHC-2.0||${t}|F^出院诊断^HL70052|||||||||${i + 1}|1024^王^伟`),
      ...VITALS.map(([code, text, unit, low, high], i) => `OBX|${i + 1}|NM|${code}^${text}^LN||${Math.round(low + this.#rand() * (high - low))}|${unit}^^UCUM|||||F|||${measured}`),
    ].join('\r'), 'utf8');
  }

  /** ORU^R01: one lab panel (normal values) for an inpatient's stay, measured an hour before `now`. */
  labResult(p: Inpatient, now = Date.now()): Buffer {
    const panel = this.#pick(PANELS);
    const id = this.#controlId();
    const collected = hl7Time(now - 3_600_000);
    return Buffer.from([
      msh(hl7Time(now), 'ORU^R01^ORU_R01', id),
      this.#pid(p.n),
      this.#pv1(p, undefined),
      `ORC|RE|P${id}|F${id}`,
      segment('OBR', { 1: '1', 2: `P${id}`, 3: `F${id}`, 4: panel.service, 7: collected, 22: hl7Time(now), 24: 'LAB', 25: 'F' }),
      ...panel.results.map(([code, text, unit, low, high, range], i) => {
        const value = low + this.#rand() * (high - low);
        return `OBX|${i + 1}|NM|${code}^${text}^LN||${value.toFixed(high < 10 ? 1 : 0)}|${unit}^^UCUM|${range}|N|||F|||${collected}`;
      }),
    ].join('\r'), 'utf8');
  }
}
