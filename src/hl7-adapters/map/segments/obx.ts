/**
 * OBX → Observation (IG OBX[Observation] map): value by OBX-2 type, units (OBX-6), reference
 * range (OBX-7), interpretation (OBX-8, including the arrows and words Chinese lab systems send),
 * status (OBX-11, IG ObservationResultStatus map), effective time (OBX-14), performer (OBX-16).
 */
import { derivedIdentifierValue } from '../bundle-builder.ts';
import type { CodeableConcept, Encounter, Identifier, Observation, ObservationReferenceRange, Patient, Quantity, Reference } from '@medplum/fhirtypes';
import type { Hl7Repetition } from '../../parse/field.ts';
import type { Hl7Segment } from '../../parse/segment.ts';
import { SYSTEMS } from '../code-systems.ts';
import type { MappingContext } from '../context.ts';
import { MappingError, warn } from '../context.ts';
import { codeableConcept, compact, fieldDateTime } from '../datatypes.ts';
import { toFhirDateTime } from '../datetime.ts';
import { practitionerRef } from './participants.ts';

/** IG ObservationResultStatusCodesInterpretation: Table 0085 → Observation.status. */
const STATUS: Readonly<Record<string, Observation['status']>> = {
  F: 'final', U: 'final', V: 'final', C: 'corrected', A: 'amended', B: 'amended', D: 'entered-in-error', W: 'entered-in-error', X: 'cancelled', P: 'preliminary', R: 'preliminary', S: 'preliminary', I: 'registered', O: 'registered', N: 'cancelled',
};

/** Table 0078 flags are v3 ObservationInterpretation codes; local spellings map onto them. */
const LOCAL_FLAGS: Readonly<Record<string, string>> = {
  '↑': 'H', '↓': 'L', '↑↑': 'HH', '↓↓': 'LL', '高': 'H', '偏高': 'H', '低': 'L', '偏低': 'L', '正常': 'N', '阳性': 'POS', '阴性': 'NEG', '危急': 'AA', '异常': 'A',
};
const V3_FLAGS = new Set(['L', 'H', 'LL', 'HH', 'LU', 'HU', 'N', 'A', 'AA', '<', '>', 'S', 'R', 'I', 'MS', 'VS', 'U', 'D', 'B', 'W', 'POS', 'NEG', 'IND', 'E', 'EX', 'HX', 'LX', 'NS', 'ND', 'DET', 'NR', 'RR', 'SDD', 'SYN-R', 'SYN-S', 'CAR', 'EXP']);

function interpretation(ctx: MappingContext, rep: Hl7Repetition): CodeableConcept | undefined {
  const raw = rep.component(1).trim();
  if (!raw) return undefined;
  const code = LOCAL_FLAGS[raw] ?? (V3_FLAGS.has(raw.toUpperCase()) ? raw.toUpperCase() : undefined);
  if (code) return { coding: [{ system: SYSTEMS.v3Interpretation, code }], text: raw === code ? undefined : raw };
  // An unknown local flag keeps the sender's system (translated later if a ConceptMap exists).
  return codeableConcept(ctx, rep);
}

function units(ctx: MappingContext, obx: Hl7Segment): Omit<Quantity, 'value'> {
  const rep = obx.field(6).repetition(1);
  const code = rep.component(1).trim();
  if (!code) return {};
  const system = rep.component(3).trim().toUpperCase();
  const ucum = system === 'UCUM' || system === 'ANS+' || system === 'ISO+' || system === '';
  return compact({ unit: rep.component(2) || code, system: ucum ? SYSTEMS.ucum : ctx.systems.uri(rep.component(3)), code });
}

const COMPARATORS = ['<', '<=', '>', '>='] as const;
const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/;

function referenceRange(text: string, unit: Omit<Quantity, 'value'>): ObservationReferenceRange | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const q = (v: string): Quantity => ({ value: Number(v), ...unit });
  const between = /^([+-]?\d+\.?\d*)\s*(?:-|--|—|～|至)\s*([+-]?\d+\.?\d*)$/.exec(t);
  if (between) return { low: q(between[1]!), high: q(between[2]!), text: t };
  const below = /^(?:<|<=|≤)\s*([+-]?\d+\.?\d*)$/.exec(t);
  if (below) return { high: q(below[1]!), text: t };
  const above = /^(?:>|>=|≥)\s*([+-]?\d+\.?\d*)$/.exec(t);
  if (above) return { low: q(above[1]!), text: t };
  return { text: t };
}

type Value = Pick<Observation, 'valueQuantity' | 'valueString' | 'valueCodeableConcept' | 'valueDateTime' | 'valueTime' | 'valueRange' | 'valueRatio'>;

function value(ctx: MappingContext, obx: Hl7Segment): Value {
  const type = obx.field(2).value.toUpperCase();
  const reps = obx.field(5).repetitions;
  if (!reps.length) return {};
  const first = reps[0]!;
  const where = { segment: 'OBX', segmentIndex: obx.index, field: 5 };
  switch (type) {
    case 'NM': {
      const text = first.value;
      if (NUMBER.test(text)) return { valueQuantity: { value: Number(text), ...units(ctx, obx) } };
      warn(ctx, `OBX-5 "${text}" is not a number although OBX-2 is NM; kept as text`, where);
      return { valueString: text };
    }
    case 'SN': {
      const [comparator, n1, separator, n2] = [1, 2, 3, 4].map((c) => first.component(c).trim());
      const unit = units(ctx, obx);
      if (n1 && NUMBER.test(n1) && !separator) {
        const c = COMPARATORS.find((x) => x === comparator);
        return { valueQuantity: compact({ value: Number(n1), comparator: c, ...unit }) };
      }
      if (n1 && n2 && NUMBER.test(n1) && NUMBER.test(n2) && (separator === ':' || separator === '/')) return { valueRatio: { numerator: { value: Number(n1) }, denominator: { value: Number(n2) } } };
      if (n1 && n2 && NUMBER.test(n1) && NUMBER.test(n2) && separator === '-') return { valueRange: { low: { value: Number(n1), ...unit }, high: { value: Number(n2), ...unit } } };
      warn(ctx, 'OBX-5 is not a structured numeric value this mapper understands; kept as text', where);
      return { valueString: first.raw };
    }
    case 'CE': case 'CWE': case 'CNE': case 'CF':
      return { valueCodeableConcept: codeableConcept(ctx, first) };
    case 'DT': case 'DTM': case 'TS':
      try {
        return { valueDateTime: toFhirDateTime(first.value, ctx.sender.timeZone) };
      } catch {
        throw new MappingError(`OBX-5 "${first.value}" is not a date/time although OBX-2 is ${type}`, '102', where);
      }
    case 'TM': {
      const m = /^(\d{2})(\d{2})?(\d{2})?/.exec(first.value);
      return m ? { valueTime: `${m[1]}:${m[2] ?? '00'}:${m[3] ?? '00'}` } : { valueString: first.value };
    }
    case 'ST': case 'TX': case 'FT': case '':
      return { valueString: reps.map((r) => r.value).join('\n') };
    default:
      warn(ctx, `OBX-2 value type ${type} is kept as text`, { segment: 'OBX', segmentIndex: obx.index, field: 2 });
      return { valueString: reps.map((r) => r.raw).join('\n') };
  }
}

const VITAL_SIGNS = new Set(['85354-9', '8480-6', '8462-4', '8867-4', '29463-7', '8302-2', '39156-5', '59408-5', '2708-6', '8310-5', '9279-1', '8287-5']);

export interface ObservationScope {
  patient: Reference<Patient>;
  encounter?: Reference<Encounter>;
  /** Identifies the group the OBX belongs to (the report's filler number, the visit, …). */
  scope: string;
  /** OBR-7 etc. when OBX-14 is empty. */
  effective?: string;
  /** `laboratory` for results; ADT observations are vital signs when LOINC says so. */
  category?: string;
  notes?: string[];
}

export function mapObservation(ctx: MappingContext, obx: Hl7Segment, scope: ObservationScope): Reference<Observation> {
  const code = codeableConcept(ctx, obx.field(3).repetition(1));
  if (!code) throw new MappingError('OBX-3 observation identifier is empty', '101', { segment: 'OBX', segmentIndex: obx.index, field: 3 });
  const loinc = code.coding?.find((c) => c.system === SYSTEMS.loinc)?.code;
  const category = scope.category ?? (loinc && VITAL_SIGNS.has(loinc) ? 'vital-signs' : 'exam');
  const identity: Identifier = {
    system: 'https://fhir.carebridge.cn/NamingSystem/hl7-observation',
    value: derivedIdentifierValue(scope.scope, code.coding?.[0]?.system, code.coding?.[0]?.code ?? code.text, obx.field(4).value),
  };
  const unit = units(ctx, obx);
  const statusCode = obx.field(11).value.toUpperCase();
  const observation: Observation = compact({
    resourceType: 'Observation' as const,
    identifier: [identity],
    status: STATUS[statusCode] ?? (statusCode ? 'unknown' : 'final'),
    category: [{ coding: [{ system: SYSTEMS.observationCategory, code: category }] }],
    code,
    subject: scope.patient,
    encounter: scope.encounter,
    effectiveDateTime: fieldDateTime(ctx, obx, 14) ?? scope.effective,
    performer: [practitionerRef(ctx, obx.field(16).repetition(1))].filter((p) => p !== undefined),
    ...value(ctx, obx),
    interpretation: obx.field(8).repetitions.map((r) => interpretation(ctx, r)).filter((c) => c !== undefined),
    referenceRange: [referenceRange(obx.field(7).value, unit)].filter((r) => r !== undefined),
    method: codeableConcept(ctx, obx.field(17).repetition(1)),
    note: scope.notes?.map((text) => ({ text })),
  });
  return ctx.bundle.upsert(observation, identity);
}
