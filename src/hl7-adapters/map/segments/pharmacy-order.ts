/**
 * A pharmacy order group (ORC + RXE or RXO + TQ1 + RXR) → MedicationRequest, after the IG's
 * ORC, RXO, RXR and TQ1 segment maps (the IG has no RDE_O11 message map; RXE follows RXO's
 * field meanings: give code, amount, units, dispense amount, refills). These carry discharge
 * medication, which later drives reminders and adherence (expectedSupplyDuration).
 */
import type { Dosage, Encounter, Identifier, MedicationRequest, Patient, Quantity, Reference } from '@medplum/fhirtypes';
import type { Hl7Repetition } from '../../parse/field.ts';
import type { Hl7Segment } from '../../parse/segment.ts';
import { SYSTEMS } from '../code-systems.ts';
import type { MappingContext } from '../context.ts';
import { MappingError, warn } from '../context.ts';
import { codeableConcept, compact, entityIdentifier, fieldDateTime } from '../datatypes.ts';
import { Hl7DateError, toFhirDateTime } from '../datetime.ts';
import { practitionerRef } from './participants.ts';
import { courseDays, mapTiming } from './timing.ts';

export interface OrderGroup {
  orc: Hl7Segment | undefined;
  /** RXE (RDE messages) or RXO (OMP messages). */
  give: Hl7Segment;
  tq1: Hl7Segment[];
  rxr: Hl7Segment[];
  notes: string[];
}

type Status = MedicationRequest['status'];
/** Table 0038 order status (ORC-5) first, then Table 0119 order control (ORC-1). */
const BY_ORDER_STATUS: Readonly<Record<string, Status>> = { CM: 'completed', CA: 'cancelled', DC: 'stopped', HD: 'on-hold', ER: 'entered-in-error', IP: 'active', SC: 'active', A: 'active' };
const BY_ORDER_CONTROL: Readonly<Record<string, Status>> = { NW: 'active', NA: 'active', OK: 'active', XO: 'active', RP: 'active', RO: 'active', RL: 'active', OR: 'active', SC: 'active', CA: 'cancelled', OC: 'cancelled', CR: 'cancelled', DC: 'stopped', OD: 'stopped', DR: 'stopped', HD: 'on-hold', OH: 'on-hold' };

/** Field positions that differ between RXE and RXO. */
const LAYOUT = {
  RXE: { code: 2, min: 3, max: 4, units: 5, instructions: 7, dispense: 10, dispenseUnits: 11, refills: 12, substitution: 9 },
  RXO: { code: 1, min: 2, max: 3, units: 4, instructions: 7, dispense: 11, dispenseUnits: 12, refills: 13, substitution: 9 },
} as const;

function quantity(ctx: MappingContext, amount: string, unitsRep: Hl7Repetition): Quantity | undefined {
  const value = Number(amount);
  if (amount.trim() === '' || !Number.isFinite(value)) return undefined;
  const code = unitsRep.component(1).trim();
  const systemName = unitsRep.component(3).trim();
  const ucum = systemName.toUpperCase() === 'UCUM' || systemName.toUpperCase() === 'ISO+';
  return compact({ value, unit: unitsRep.component(2) || code || undefined, system: code ? (ucum ? SYSTEMS.ucum : ctx.systems.uri(systemName)) : undefined, code: code || undefined });
}

function dosage(ctx: MappingContext, group: OrderGroup, layout: (typeof LAYOUT)['RXE' | 'RXO']): { dosage: Dosage; start?: string; end?: string } {
  const give = group.give;
  const tq1 = group.tq1[0];
  const units = give.field(layout.units).repetition(1);
  const min = quantity(ctx, give.field(layout.min).value, units);
  const max = quantity(ctx, give.field(layout.max).value, units);
  // Timing from TQ1 (v2.5+); else the deprecated TQ in RXE-1 or ORC-7 (interval ^ start ^ end).
  const tq = give.name === 'RXE' && !give.field(1).isEmpty ? give.field(1).repetition(1) : group.orc?.field(7).repetition(1);
  let pattern = '';
  let text: string | undefined;
  let start: string | undefined;
  let end: string | undefined;
  let times: string[] = [];
  let duration: { value: number; unit: string } | undefined;
  let count: number | undefined;
  if (tq1) {
    const rpt = tq1.field(3).repetition(1);
    pattern = [rpt.subcomponent(1, 1), rpt.subcomponent(1, 2)].filter(Boolean).join('&');
    text = rpt.component(2) || undefined;
    times = tq1.field(4).repetitions.map((r) => r.value);
    start = fieldDateTime(ctx, tq1, 7);
    end = fieldDateTime(ctx, tq1, 8);
    if (!start && /^\d{12,14}$/.test(tq1.field(9).value)) {
      // Some HIS exports are shifted by one field: start in TQ1-8 and end in TQ1-9 (priority).
      start = end;
      end = fieldDateTime(ctx, tq1, 9);
      warn(ctx, 'TQ1-9 (priority) holds a date/time: read TQ1-8 as the start and TQ1-9 as the end', { segment: 'TQ1', segmentIndex: tq1.index, field: 9 });
    }
    const d = Number(tq1.field(6).component(1));
    if (Number.isFinite(d) && d > 0) duration = { value: d, unit: tq1.field(6).component(2) || 'd' };
    const n = Number(tq1.field(14).value);
    if (Number.isInteger(n) && n > 0) count = n;
  } else if (tq && !tq.isEmpty) {
    pattern = [tq.subcomponent(2, 1), tq.subcomponent(2, 2)].filter(Boolean).join('&');
    const where = { segment: give.name === 'RXE' && !give.field(1).isEmpty ? give.name : 'ORC', segmentIndex: give.name === 'RXE' && !give.field(1).isEmpty ? give.index : group.orc?.index, field: give.name === 'RXE' && !give.field(1).isEmpty ? 1 : 7 };
    try {
      start = toFhirDateTime(tq.component(4), ctx.sender.timeZone);
      end = toFhirDateTime(tq.component(5), ctx.sender.timeZone);
    } catch (err) {
      if (!(err instanceof Hl7DateError)) throw err;
      throw new MappingError(`${where.segment}-${where.field} start/end: ${err.message}`, '102', where);
    }
  }
  const timing = mapTiming({ pattern, times, start, end, duration, count, text });
  if (!timing.understood) {
    warn(ctx, `frequency "${pattern}" is not a known repeat pattern; kept as text`, { segment: tq1 ? 'TQ1' : give.name, segmentIndex: (tq1 ?? give).index, field: tq1 ? 3 : 1 });
  }
  const route = group.rxr[0];
  const instructions = give.field(layout.instructions).repetitions.map((r) => r.component(2) || r.component(1)).filter(Boolean);
  const doseAndRate = min && max && max.value !== min.value ? [{ doseRange: { low: min, high: max } }] : min ? [{ doseQuantity: min }] : undefined;
  const dose: Dosage = compact({
    sequence: 1,
    text: [pattern.split('&')[0], text].filter(Boolean).join(' ') || undefined,
    patientInstruction: instructions.join(instructions.some((i) => /[\u3400-\u9fff]/.test(i)) ? '；' : '; ') || undefined,
    timing: Object.keys(timing.timing).length ? timing.timing : undefined,
    asNeededBoolean: timing.asNeeded || undefined,
    route: route ? codeableConcept(ctx, route.field(1).repetition(1), '0162') : undefined,
    site: route ? codeableConcept(ctx, route.field(2).repetition(1), '0550') : undefined,
    doseAndRate,
  });
  return { dosage: dose, start, end };
}

/**
 * RXE-9 / RXO-9: Table 0167 substitution status. 1 = substitution not allowed by the prescriber;
 * G (generic) and T (therapeutic) mean a substitute was allowed and given; other codes say nothing
 * about what the prescriber allowed.
 */
function substitution(code: string): MedicationRequest['substitution'] {
  const c = code.trim().toUpperCase();
  if (c === '1') return { allowedBoolean: false };
  if (c === 'G' || c === 'T') return { allowedBoolean: true };
  return undefined;
}

function status(orc: Hl7Segment | undefined): Status {
  if (!orc) return 'active';
  return BY_ORDER_STATUS[orc.field(5).value.toUpperCase()] ?? BY_ORDER_CONTROL[orc.field(1).value.toUpperCase()] ?? 'active';
}

export function mapMedicationRequest(ctx: MappingContext, group: OrderGroup, patient: Reference<Patient>, encounter: Reference<Encounter> | undefined): Reference<MedicationRequest> {
  const give = group.give;
  const layout = LAYOUT[give.name as 'RXE' | 'RXO'];
  const medication = codeableConcept(ctx, give.field(layout.code).repetition(1));
  if (!medication) throw new MappingError(`${give.name}-${layout.code} medication code is empty`, '101', { segment: give.name, segmentIndex: give.index, field: layout.code });
  const orc = group.orc;
  const placer = orc && entityIdentifier(ctx, orc.field(2).repetition(1), 'PLAC');
  const filler = orc && entityIdentifier(ctx, orc.field(3).repetition(1), 'FILL');
  const identity: Identifier | undefined = placer ?? filler;
  if (!identity) throw new MappingError('ORC-2 placer order number and ORC-3 filler order number are both empty: the order cannot be identified', '101', { segment: 'ORC', segmentIndex: orc?.index, field: 2 });
  const { dosage: dose, start, end } = dosage(ctx, group, layout);
  const days = courseDays(start, end);
  const refills = Number(give.field(layout.refills).value);
  const dispenseQuantity = quantity(ctx, give.field(layout.dispense).value, give.field(layout.dispenseUnits).repetition(1));
  const request: MedicationRequest = compact({
    resourceType: 'MedicationRequest' as const,
    identifier: [placer, filler].filter((i) => i !== undefined),
    groupIdentifier: orc ? entityIdentifier(ctx, orc.field(4).repetition(1), 'PGN') : undefined,
    status: status(orc),
    intent: 'order' as const,
    medicationCodeableConcept: medication,
    subject: patient,
    encounter,
    authoredOn: orc ? fieldDateTime(ctx, orc, 9) : undefined,
    requester: orc ? practitionerRef(ctx, orc.field(12).repetition(1)) : undefined,
    recorder: orc ? practitionerRef(ctx, orc.field(10).repetition(1)) : undefined,
    note: group.notes.map((text) => ({ text })),
    dosageInstruction: Object.keys(dose).length > 1 ? [dose] : undefined,
    dispenseRequest: compact({
      quantity: dispenseQuantity,
      numberOfRepeatsAllowed: Number.isInteger(refills) && refills >= 0 && give.field(layout.refills).value !== '' ? refills : undefined,
      validityPeriod: start || end ? compact({ start, end }) : undefined,
      expectedSupplyDuration: days ? { value: days, unit: 'd', system: SYSTEMS.ucum, code: 'd' } : undefined,
    }),
    substitution: substitution(give.field(layout.substitution).value),
  });
  return ctx.bundle.upsert(request, identity);
}
