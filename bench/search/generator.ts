/**
 * Deterministic, streamed generator of the search dataset: ~20,000 Chinese patients with their
 * Encounters (inpatient and ambulatory, 2023–2026), Conditions (ICD-10 China), Observations
 * (standalone vital signs and labs), MedicationRequests and follow-up Tasks, ~50 resources per
 * patient, as FHIR transaction Bundles of a few hundred POST entries linked by urn:uuid fullUrls.
 *
 * Every patient is generated from its own PRNG seeded by (seed, patient index), so the dataset
 * is the same on every run and any patient can be regenerated alone. Bundles are yielded one at a
 * time and only one patient's resources are held at once; what the query benchmark needs is
 * accumulated on the way in `DatasetStats` (exact match counts for the parameter values it will
 * search with, and details of ~200 sample patients), a few kilobytes whatever the size.
 */
import type { Bundle, BundleEntry, Condition, Encounter, MedicationRequest, Observation, Organization, Patient, Practitioner, Resource, Task } from '@medplum/fhirtypes';
import { prng } from '../lib/payloads.ts';
import { DIAGNOSES, FAMILY_NAMES, GIVEN_CHARS, NAME_QUERIES, OBSERVATIONS, REGIONS, SYSTEMS, VALUE_QUERIES } from './vocab.ts';
import type { Diagnosis, ObservationKind } from './vocab.ts';

/** The dataset's "today": Encounters span 2023-01-01 up to here, and Task statuses follow from it. */
export const DATASET_NOW = Date.UTC(2026, 5, 30, 4, 0, 0);
const DATASET_START = Date.UTC(2023, 0, 1);
const DAY = 86_400_000;
const MINUTE = 60_000;

export interface GeneratorOptions {
  patients: number;
  seed: number;
  /** Patients given ~500 resources each (for $everything). */
  heavyPatients: number;
  /** Patients whose details go into the manifest for per-patient queries. */
  samplePatients: number;
  /** A Bundle is closed once it holds at least this many entries. */
  bundleEntries: number;
}

/** References to the shared resources (created first): `Organization/<id>` and `Practitioner/<id>`s. */
export interface SharedRefs {
  organization: string;
  doctors: string[];
  nurses: string[];
}

export interface SampleDetails {
  index: number;
  heavy: boolean;
  mrn: string;
  residentId: string;
  familyHan: string;
  givenHan: string;
  familyPinyin: string;
  givenPinyin: string;
  gender: 'male' | 'female';
  birthDate: string;
  /** Resources in the patient's compartment, the Patient included. */
  resources: number;
  observations: number;
  /** effectiveDateTime of every systolic blood pressure, epoch ms. */
  systolicTimes: number[];
  conditionCodes: string[];
}

export interface DatasetStats {
  patients: number;
  resources: number;
  bundles: number;
  byType: Record<string, number>;
  observationsByCode: Record<string, number>;
  /** `code|threshold` → Observations with that code and value > threshold. */
  observationsAbove: Record<string, number>;
  conditionsByCode: Record<string, number>;
  /** Patients with at least one Condition of the code. */
  patientsWithCondition: Record<string, number>;
  encountersByStatus: Record<string, number>;
  encountersByClass: Record<string, number>;
  tasksByStatus: Record<string, number>;
  /** gender → birth year → patients. */
  patientsByGenderYear: Record<string, Record<string, number>>;
  /** NAME_QUERIES value → Patients whose name matches it by the string-search rules. */
  patientsMatchingName: Record<string, number>;
  familyNames: Record<string, number>;
}

export interface GeneratedBundle {
  sequence: number;
  body: string;
  entries: number;
  /** Patients in this Bundle: their index and the position of their Patient entry. */
  patients: Array<{ index: number; entry: number }>;
}

/** A reference to an entry of the same Bundle (`urn:uuid:…`). */
type Ref = { reference: string };

interface Item {
  uuid: string;
  resource: Resource;
}

// ---------------------------------------------------------------------------------------------
// Random helpers

type Rand = () => number;

function seedFor(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.imul(h, 0x27d4eb2f) >>> 0;
}

function uuid(rand: Rand): string {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += Math.floor(rand() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(rand() * 4)]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const pick = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;

function weighted<T>(rand: Rand, items: readonly T[], weight: (t: T) => number): T {
  let total = 0;
  for (const item of items) total += weight(item);
  let x = rand() * total;
  for (const item of items) {
    x -= weight(item);
    if (x < 0) return item;
  }
  return items[items.length - 1] as T;
}

function normal(rand: Rand, mean: number, sd: number): number {
  const u = 1 - rand();
  const v = rand();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const round = (x: number, decimals: number) => Math.round(x * 10 ** decimals) / 10 ** decimals;

/** ISO dateTime in China Standard Time (+08:00), second precision. */
function cst(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000 + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}
/** Second precision, as `cst` writes it: the value the server indexes. */
const secondOf = (ms: number) => Math.floor(ms / 1000) * 1000;

/** GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character. */
export function residentIdCheck(body17: string): string {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body17[i]) * (weights[i] as number);
  return '10X98765432'[sum % 11] as string;
}

/** Lower-cased, accents removed: the server's string-search normalisation. */
const normalize = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();

/** The strings a HumanName is found by (text, family, given, and the family+given combinations). */
function nameStrings(text: string, family: string, given: string[]): string[] {
  return [text, family, ...given, family + given.join(''), `${given.join(' ')} ${family}`, `${family} ${given.join(' ')}`].map(normalize);
}

const inc = (map: Record<string, number>, key: string, by = 1) => {
  map[key] = (map[key] ?? 0) + by;
};

// ---------------------------------------------------------------------------------------------

/** The Organization and Practitioners every patient's resources refer to: one Bundle, created first. */
export function sharedBundle(seed: number): { body: string; entries: Array<{ type: string; role: 'organization' | 'doctor' | 'nurse' }> } {
  const rand = prng(seedFor(seed, -1));
  const entries: BundleEntry[] = [];
  const roles: Array<{ type: string; role: 'organization' | 'doctor' | 'nurse' }> = [];
  const organization: Organization = {
    resourceType: 'Organization',
    identifier: [{ system: 'urn:oid:2.16.156.10011.1.5', value: '12100000400000000X' }],
    active: true,
    name: '北京协和医院',
    alias: ['Peking Union Medical College Hospital'],
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'prov', display: 'Healthcare Provider' }] }],
  };
  entries.push({ fullUrl: `urn:uuid:${uuid(rand)}`, resource: organization, request: { method: 'POST', url: 'Organization' } });
  roles.push({ type: 'Organization', role: 'organization' });
  for (let i = 0; i < 40; i++) {
    const nurse = i < 12;
    const [family, familyPinyin] = weighted(rand, FAMILY_NAMES, (f) => f[2]);
    const gender = nurse || rand() < 0.45 ? 'female' : 'male';
    const [given, givenPinyin] = pick(rand, GIVEN_CHARS[gender]);
    const practitioner: Practitioner = {
      resourceType: 'Practitioner',
      identifier: [{ system: SYSTEMS.practitionerId, value: `${nurse ? 'N' : 'D'}${String(1001 + i)}` }],
      active: true,
      name: [
        { use: 'official', text: `${family}${given}`, family, given: [given] },
        { use: 'usual', text: `${familyPinyin} ${givenPinyin[0]?.toUpperCase()}${givenPinyin.slice(1)}`, family: familyPinyin, given: [givenPinyin] },
      ],
      gender,
      qualification: [{ code: { text: nurse ? '护士' : '执业医师' } }],
    };
    entries.push({ fullUrl: `urn:uuid:${uuid(rand)}`, resource: practitioner, request: { method: 'POST', url: 'Practitioner' } });
    roles.push({ type: 'Practitioner', role: nurse ? 'nurse' : 'doctor' });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
  return { body: JSON.stringify(bundle), entries: roles };
}

export class DatasetGenerator {
  readonly stats: DatasetStats;
  readonly samples: SampleDetails[] = [];
  readonly heavyIndices: ReadonlySet<number>;
  private readonly sampleStep: number;
  private readonly options: GeneratorOptions;
  private readonly refs: SharedRefs;
  private readonly residentIds = new Set<string>();

  constructor(options: GeneratorOptions, refs: SharedRefs) {
    this.options = options;
    this.refs = refs;
    const heavy = new Set<number>();
    for (let k = 0; k < options.heavyPatients; k++) heavy.add(Math.floor(((k + 0.5) * options.patients) / options.heavyPatients));
    this.heavyIndices = heavy;
    this.sampleStep = Math.max(1, Math.floor(options.patients / Math.max(1, options.samplePatients)));
    this.stats = {
      patients: 0,
      resources: 0,
      bundles: 0,
      byType: {},
      observationsByCode: {},
      observationsAbove: {},
      conditionsByCode: {},
      patientsWithCondition: {},
      encountersByStatus: {},
      encountersByClass: {},
      tasksByStatus: {},
      patientsByGenderYear: {},
      patientsMatchingName: Object.fromEntries(NAME_QUERIES.map((q) => [q, 0])),
      familyNames: {},
    };
  }

  isSample(index: number): boolean {
    return index % this.sampleStep === Math.floor(this.sampleStep / 2) && !this.heavyIndices.has(index);
  }

  /** The transaction Bundles, in order; each patient's resources are in one Bundle. */
  *bundles(): Generator<GeneratedBundle> {
    let entries: BundleEntry[] = [];
    let patients: Array<{ index: number; entry: number }> = [];
    const flush = (): GeneratedBundle => {
      const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
      const out = { sequence: this.stats.bundles++, body: JSON.stringify(bundle), entries: entries.length, patients };
      entries = [];
      patients = [];
      return out;
    };
    for (let index = 0; index < this.options.patients; index++) {
      const items = this.patient(index);
      if (entries.length && entries.length + items.length > this.options.bundleEntries * 1.8) yield flush();
      patients.push({ index, entry: entries.length });
      for (const item of items) entries.push({ fullUrl: `urn:uuid:${item.uuid}`, resource: item.resource, request: { method: 'POST', url: item.resource.resourceType } });
      if (entries.length >= this.options.bundleEntries) yield flush();
    }
    if (entries.length) yield flush();
  }

  /** One patient and everything about them. */
  patient(index: number): Item[] {
    const rand = prng(seedFor(this.options.seed, index));
    const heavy = this.heavyIndices.has(index);
    const s = this.stats;
    const items: Item[] = [];
    const add = (resource: Resource): Ref => {
      const item = { uuid: uuid(rand), resource };
      items.push(item);
      inc(s.byType, resource.resourceType);
      return { reference: `urn:uuid:${item.uuid}` };
    };

    // --- demographics
    const gender: 'male' | 'female' = rand() < 0.49 ? 'male' : 'female';
    const [familyHan, familyPinyin] = weighted(rand, FAMILY_NAMES, (f) => f[2]);
    const chars = rand() < 0.3 ? 1 : 2;
    const givenParts = Array.from({ length: chars }, () => pick(rand, GIVEN_CHARS[gender]));
    const givenHan = givenParts.map((g) => g[0]).join('');
    const givenLower = givenParts.map((g) => g[1]).join('');
    const givenPinyin = `${givenLower[0]?.toUpperCase()}${givenLower.slice(1)}`;
    // Hospital patients are older than the population: birth years skew to 1940–1970.
    const birthYear = clamp(Math.round(rand() < 0.75 ? normal(rand, 1958, 13) : 1930 + rand() * 80), 1930, 2010);
    const birthMs = Date.UTC(birthYear, 0, 1) + Math.floor(rand() * 365) * DAY;
    const birthDate = new Date(birthMs).toISOString().slice(0, 10);
    const region = weighted(rand, REGIONS, (r) => r.weight);
    let residentId: string;
    do {
      const sequence = Math.floor(rand() * 500) * 2 + (gender === 'male' ? 1 : 0); // odd for men, even for women
      const body = `${region.code}${birthDate.replaceAll('-', '')}${String(sequence).padStart(3, '0')}`;
      residentId = body + residentIdCheck(body);
    } while (this.residentIds.has(residentId));
    this.residentIds.add(residentId);
    const mrn = String(10_000_000 + index * 7 + Math.floor(rand() * 7)).padStart(10, '0');

    const patient: Patient = {
      resourceType: 'Patient',
      identifier: [
        { use: 'usual', type: { coding: [{ system: SYSTEMS.v2_0203, code: 'MR', display: 'Medical record number' }], text: '病案号' }, system: SYSTEMS.mrn, value: mrn },
        { use: 'official', type: { coding: [{ system: SYSTEMS.v2_0203, code: 'NI', display: 'National unique individual identifier' }], text: '居民身份证' }, system: SYSTEMS.residentId, value: residentId },
      ],
      active: true,
      name: [
        { use: 'official', text: `${familyHan}${givenHan}`, family: familyHan, given: [givenHan] },
        { use: 'usual', text: `${familyPinyin} ${givenPinyin}`, family: familyPinyin, given: [givenPinyin] },
      ],
      telecom: [{ system: 'phone', value: `+86 1${pick(rand, ['35', '38', '39', '58', '86', '88'])}${Math.floor(rand() * 10)} ${String(Math.floor(rand() * 10_000)).padStart(4, '0')} ${String(Math.floor(rand() * 10_000)).padStart(4, '0')}`, use: 'mobile' }],
      gender,
      birthDate,
      address: [{ use: 'home', city: region.city, district: region.district, state: region.state, postalCode: region.postalCode, country: 'CN', line: [`${1 + Math.floor(rand() * 300)}号`] }],
      managingOrganization: { reference: this.refs.organization },
    };
    const patientRef = add(patient);
    s.patients++;
    inc(s.familyNames, familyHan);
    (s.patientsByGenderYear[gender] ??= {})[String(birthYear)] = (s.patientsByGenderYear[gender]?.[String(birthYear)] ?? 0) + 1;
    const names = [...nameStrings(`${familyHan}${givenHan}`, familyHan, [givenHan]), ...nameStrings(`${familyPinyin} ${givenPinyin}`, familyPinyin, [givenPinyin])];
    for (const q of NAME_QUERIES) {
      const nq = normalize(q);
      if (names.some((n) => n.startsWith(nq))) inc(s.patientsMatchingName, q);
    }

    // --- chronic diagnoses, more likely with age
    const age = 2026 - birthYear;
    const ageFactor = clamp((age - 20) / 40, 0.15, 1.6);
    const chronic = DIAGNOSES.filter((d) => d.chronic && rand() < d.prevalence * ageFactor * (heavy ? 3 : 1));
    const hypertensive = chronic.some((d) => d.code === 'I10');
    const diabetic = chronic.some((d) => d.code === 'E11.9');
    const sysMean = (hypertensive ? 146 : 114) + age * 0.15;
    const hrMean = normal(rand, 76, 6);
    const weightMean = clamp(normal(rand, gender === 'male' ? 70 : 60, 10), 40, 120);

    // --- encounters, in time order
    const encounterCount = heavy ? 40 : Math.min(14, 1 + Math.floor(-Math.log(1 - rand()) * 4));
    const starts = Array.from({ length: encounterCount }, () => DATASET_START + rand() * (DATASET_NOW - DATASET_START - DAY)).sort((a, b) => a - b);
    const systolicTimes: number[] = [];
    let observations = 0;
    const conditionCodes = new Set<string>();
    const doctor = pick(rand, this.refs.doctors);

    const observe = (kind: ObservationKind, at: number, value: number, encounterRef: Ref, decimals = 0) => {
      const v = round(value, decimals);
      const obs: Observation = {
        resourceType: 'Observation',
        status: 'final',
        category: [{ coding: [{ system: SYSTEMS.obsCategory, code: kind.category, display: kind.category === 'laboratory' ? 'Laboratory' : 'Vital Signs' }] }],
        code: { coding: [{ system: SYSTEMS.loinc, code: kind.code, display: kind.display }], text: kind.text },
        subject: patientRef,
        encounter: encounterRef,
        effectiveDateTime: cst(at),
        issued: `${new Date(secondOf(at) + 5 * MINUTE).toISOString().slice(0, 19)}Z`,
        valueQuantity: { value: v, unit: kind.unit, system: SYSTEMS.ucum, code: kind.ucum },
      };
      add(obs);
      observations++;
      inc(s.observationsByCode, kind.code);
      for (const [code, threshold] of VALUE_QUERIES) if (code === kind.code && v > threshold) inc(s.observationsAbove, `${code}|${threshold}`);
      if (kind.code === OBSERVATIONS.systolic.code) systolicTimes.push(secondOf(at));
    };
    const vitals = (at: number, encounterRef: Ref) => {
      const sys = clamp(normal(rand, sysMean, 12), 90, 200);
      observe(OBSERVATIONS.systolic, at, sys, encounterRef);
      observe(OBSERVATIONS.diastolic, at + 30_000, clamp(sys * 0.55 + 12 + normal(rand, 0, 6), 50, 120), encounterRef);
      observe(OBSERVATIONS.heartRate, at + 60_000, clamp(normal(rand, hrMean, 9), 45, 150), encounterRef);
    };
    const labs = (at: number, encounterRef: Ref, hba1c: boolean) => {
      observe(OBSERVATIONS.glucose, at, clamp(diabetic ? normal(rand, 165, 45) : normal(rand, 98, 14), 55, 450), encounterRef);
      if (hba1c) observe(OBSERVATIONS.hba1c, at, clamp(diabetic ? normal(rand, 7.6, 1.1) : normal(rand, 5.4, 0.35), 4, 14), encounterRef, 1);
    };
    const condition = (d: Diagnosis, encounterRef: Ref, at: number, category: 'encounter-diagnosis' | 'problem-list-item', active: boolean): Ref => {
      const c: Condition = {
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ system: SYSTEMS.condClinical, code: active ? 'active' : 'resolved' }] },
        verificationStatus: { coding: [{ system: SYSTEMS.condVerification, code: 'confirmed' }] },
        category: [{ coding: [{ system: SYSTEMS.condCategory, code: category }] }],
        code: { coding: [{ system: SYSTEMS.icd10cn, code: d.code, display: d.display }], text: d.display },
        subject: patientRef,
        encounter: encounterRef,
        onsetDateTime: cst(d.chronic ? at - Math.floor(rand() * 5 * 365) * DAY : at - Math.floor(rand() * 3) * DAY),
        recordedDate: cst(at),
        recorder: { reference: doctor },
      };
      inc(s.conditionsByCode, d.code);
      if (!conditionCodes.has(d.code)) inc(s.patientsWithCondition, d.code);
      conditionCodes.add(d.code);
      return add(c);
    };
    const prescribe = (d: Diagnosis, reason: Ref, encounterRef: Ref, at: number, category: 'inpatient' | 'outpatient' | 'discharge'): Ref => {
      const [atc, display, text, dose] = d.drugs[rand() < 0.75 ? 0 : d.drugs.length - 1] as Diagnosis['drugs'][number];
      const days = d.chronic ? 30 : 7;
      const status = at + days * DAY > DATASET_NOW ? 'active' : rand() < 0.85 ? 'completed' : 'stopped';
      const mr: MedicationRequest = {
        resourceType: 'MedicationRequest',
        status,
        intent: 'order',
        category: [{ coding: [{ system: SYSTEMS.medReqCategory, code: category }] }],
        medicationCodeableConcept: { coding: [{ system: SYSTEMS.atc, code: atc, display }], text },
        subject: patientRef,
        encounter: encounterRef,
        authoredOn: cst(at),
        requester: { reference: doctor },
        reasonReference: [reason],
        dosageInstruction: [
          {
            text: `每日${d.chronic ? '一' : '两'}次，每次${dose}mg`,
            timing: { repeat: { frequency: d.chronic ? 1 : 2, period: 1, periodUnit: 'd' } },
            doseAndRate: [{ doseQuantity: { value: dose, unit: 'mg', system: SYSTEMS.ucum, code: 'mg' } }],
          },
        ],
        dispenseRequest: { validityPeriod: { start: cst(at), end: cst(at + days * DAY) }, numberOfRepeatsAllowed: d.chronic ? 2 : 0, expectedSupplyDuration: { value: days, unit: 'days', system: SYSTEMS.ucum, code: 'd' } },
      };
      return add(mr);
    };
    const task = (text: string, focus: Ref, encounterRef: Ref, due: number) => {
      // Past tasks are mostly done; a backlog of overdue ones stays open, as on real worklists.
      let status: Task['status'];
      if (due > DATASET_NOW) status = 'requested';
      else if (due > DATASET_NOW - 3 * DAY) status = rand() < 0.5 ? 'in-progress' : 'requested';
      else {
        const r = rand();
        status = r < 0.05 ? 'requested' : r < 0.08 ? 'in-progress' : r < 0.94 ? 'completed' : r < 0.98 ? 'cancelled' : 'failed';
      }
      const t: Task = {
        resourceType: 'Task',
        status,
        intent: 'order',
        priority: rand() < 0.15 ? 'urgent' : 'routine',
        code: { coding: [{ system: SYSTEMS.taskCode, code: 'fulfill', display: 'Fulfill the focal request' }], text },
        description: text,
        for: patientRef,
        focus,
        encounter: encounterRef,
        authoredOn: cst(due - 7 * DAY),
        lastModified: cst(status === 'completed' ? due + Math.floor(rand() * 2 * DAY) : due - 7 * DAY),
        executionPeriod: status === 'completed' ? { start: cst(due), end: cst(due + Math.floor(rand() * 2 * DAY)) } : { start: cst(due) },
        restriction: { period: { start: cst(due - 2 * DAY), end: cst(due + 7 * DAY) } },
        requester: { reference: doctor },
        owner: { reference: pick(rand, this.refs.nurses) },
      };
      inc(s.tasksByStatus, status);
      add(t);
    };

    let first = true;
    const problems = new Map<Diagnosis, Ref>();
    for (const start0 of starts) {
      const inpatient = rand() < 0.3;
      const start = Math.floor(start0 / MINUTE) * MINUTE;
      const stayDays = inpatient ? clamp(Math.round(Math.exp(normal(rand, 1.6, 0.6))), 1, 30) : 0;
      const end = inpatient ? start + stayDays * DAY + Math.floor(rand() * 8) * 3_600_000 : start + (15 + Math.floor(rand() * 60)) * MINUTE;
      const status: Encounter['status'] = end > DATASET_NOW ? 'in-progress' : rand() < 0.05 ? 'cancelled' : 'finished';
      const encounter: Encounter = {
        resourceType: 'Encounter',
        status,
        class: inpatient ? { system: SYSTEMS.actCode, code: 'IMP', display: 'inpatient encounter' } : { system: SYSTEMS.actCode, code: 'AMB', display: 'ambulatory' },
        type: [inpatient ? { coding: [{ system: SYSTEMS.snomed, code: '32485007', display: 'Hospital admission' }], text: '住院' } : { coding: [{ system: SYSTEMS.snomed, code: '185349003', display: 'Encounter for check up' }], text: '门诊' }],
        subject: patientRef,
        participant: [{ individual: { reference: doctor } }],
        period: status === 'in-progress' ? { start: cst(start) } : { start: cst(start), end: cst(end) },
        serviceProvider: { reference: this.refs.organization },
        ...(inpatient && status === 'finished' ? { hospitalization: { dischargeDisposition: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/discharge-disposition', code: 'home', display: 'Home' }] } } } : {}),
      };
      const encRef = add(encounter);
      inc(s.encountersByStatus, status);
      inc(s.encountersByClass, inpatient ? 'IMP' : 'AMB');
      if (status === 'cancelled') continue;

      // Chronic problems are recorded at the first visit; later visits renew their prescriptions.
      if (first) for (const d of chronic) problems.set(d, condition(d, encRef, start, 'problem-list-item', true));
      first = false;
      let acute: [Diagnosis, Ref] | undefined;
      if (inpatient || rand() < 0.3) {
        const candidates = DIAGNOSES.filter((d) => !d.chronic || (inpatient && chronic.includes(d) && (d.code === 'I50.9' || d.code === 'J44.9')));
        const d = weighted(rand, candidates, (c) => c.prevalence * (c.chronic ? 4 : 1));
        acute = [d, condition(d, encRef, start, 'encounter-diagnosis', !(end < DATASET_NOW - 30 * DAY))];
      }

      // Observations: one set on arrival; daily rounds while admitted.
      const last = Math.min(end, DATASET_NOW);
      vitals(start + 10 * MINUTE, encRef);
      if (inpatient || rand() < 0.5) observe(OBSERVATIONS.weight, start + 12 * MINUTE, clamp(normal(rand, weightMean, 1.2), 35, 150), encRef, 1);
      if (diabetic || inpatient || rand() < 0.2) labs(start + 40 * MINUTE, encRef, diabetic && rand() < 0.6);
      if (inpatient) {
        for (let t = start + DAY - (start % DAY) + 22 * 3_600_000 + Math.floor(rand() * 60) * MINUTE; t < last; t += DAY) {
          vitals(t, encRef);
          if (diabetic) labs(t + 2 * 3_600_000, encRef, false);
        }
      }

      // Prescriptions: chronic drugs renewed at most visits, one for the acute problem.
      let dischargeMed: Ref | undefined;
      for (const [d, problem] of problems) {
        if (rand() < 0.6) {
          const mr = prescribe(d, problem, encRef, start + 30 * MINUTE, inpatient ? 'discharge' : 'outpatient');
          if (inpatient) dischargeMed = mr;
        }
      }
      if (acute) {
        const mr = prescribe(acute[0], acute[1], encRef, start + 45 * MINUTE, inpatient ? 'inpatient' : 'outpatient');
        if (inpatient) dischargeMed ??= mr;
      }

      // Follow-up work after discharge: a phone call, and a medication review for discharge prescriptions.
      if (inpatient && status === 'finished') {
        task('出院后电话随访', encRef, encRef, end + (3 + Math.floor(rand() * 5)) * DAY);
        if (dischargeMed && rand() < 0.5) task('出院带药用药核查', dischargeMed, encRef, end + (1 + Math.floor(rand() * 3)) * DAY);
      }
    }

    s.resources += items.length;
    const sample = this.isSample(index) || heavy;
    if (sample) {
      this.samples.push({
        index,
        heavy,
        mrn,
        residentId,
        familyHan,
        givenHan,
        familyPinyin,
        givenPinyin,
        gender,
        birthDate,
        resources: items.length,
        observations,
        systolicTimes,
        conditionCodes: [...conditionCodes],
      });
    }
    return items;
  }
}
