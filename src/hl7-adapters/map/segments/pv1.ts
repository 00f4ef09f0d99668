/**
 * PV1 (and PV2) → Encounter, after the IG's PV1[Encounter] map and its Event(EncounterStatus) and
 * PatientClass(EncounterClass) maps. The Encounter is keyed on PV1-19 (visit number); a message
 * without one cannot say which visit it is about, so no Encounter is written (with a warning).
 *
 * Deviation from the IG, documented in docs/hl7-interface.md: A08 ("update patient information")
 * does not set the status to `unknown` — it keeps the stored status, or derives it from PV1-44/45
 * for a visit not seen before — because an update must not undo an admission or a discharge.
 */
import type { Coding, Encounter, EncounterLocation, EncounterParticipant, Identifier, Location, Patient, Reference } from '@medplum/fhirtypes';
import type { Hl7Segment } from '../../parse/segment.ts';
import { identifierQuery } from '../bundle-builder.ts';
import { SYSTEMS } from '../code-systems.ts';
import type { MappingContext } from '../context.ts';
import { warn } from '../context.ts';
import { codeableConcept, compact, fieldDateTime, identifier } from '../datatypes.ts';
import { locationRef, practitionerRef, senderOrganizationRef } from './participants.ts';

type Status = Encounter['status'];

/** IG Event(EncounterStatus): trigger event → status (A08 handled separately). */
const STATUS_BY_EVENT: Readonly<Record<string, Status>> = {
  A01: 'in-progress', A02: 'in-progress', A03: 'finished', A04: 'planned', A05: 'planned', A06: 'in-progress', A07: 'in-progress', A11: 'cancelled', A12: 'in-progress', A13: 'in-progress',
};

/** IG PatientClass(EncounterClass): Table 0004 → v3 ActCode. */
const CLASS: Readonly<Record<string, Coding>> = {
  E: { system: SYSTEMS.v3ActCode, code: 'EMER', display: 'emergency' },
  I: { system: SYSTEMS.v3ActCode, code: 'IMP', display: 'inpatient encounter' },
  O: { system: SYSTEMS.v3ActCode, code: 'AMB', display: 'ambulatory' },
  P: { system: SYSTEMS.v3ActCode, code: 'PRENC', display: 'pre-admission' },
};
const UNKNOWN_CLASS: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor', code: 'UNK', display: 'unknown' };

function participant(ctx: MappingContext, pv1: Hl7Segment, field: number, code: string, display: string): EncounterParticipant[] {
  return pv1.field(field).repetitions
    .map((rep) => practitionerRef(ctx, rep))
    .filter((r) => r !== undefined)
    .map((individual) => ({ type: [{ coding: [{ system: SYSTEMS.v3ParticipationType, code, display }] }], individual }));
}

/** The location history: earlier beds become completed, the current one is active (completed once discharged). */
function locations(current: Reference<Location> | undefined, existing: Encounter | undefined, finished: boolean, priorBed: Reference<Location> | undefined): EncounterLocation[] {
  const history: EncounterLocation[] = (existing?.location ?? [])
    .filter((l) => l.location.reference !== undefined)
    .map((l) => ({ ...l, status: 'completed' as const }));
  const out = [...history];
  if (priorBed && !out.some((l) => l.location.display === priorBed.display)) out.push({ location: priorBed, status: 'completed' });
  if (current) {
    // The same bed again (A08 after A01) is not a move: keep one entry for it.
    const same = out.findIndex((l) => l.location.display === current.display);
    if (same >= 0) out.splice(same, 1);
    out.push({ location: current, status: finished ? 'completed' : 'active' });
  }
  return out;
}

export interface MappedEncounter {
  reference: Reference<Encounter>;
  identity: Identifier;
  resource: Encounter;
}

/** The visit's identifier (PV1-19, type VN unless given): what its Encounter is matched on. */
function visitIdentity(ctx: MappingContext, pv1: Hl7Segment): Identifier | undefined {
  const visit = identifier(ctx, pv1.field(19).repetition(1));
  if (visit) visit.type ??= { coding: [{ system: SYSTEMS.v2('0203'), code: 'VN' }] };
  return visit;
}

/**
 * Maps PV1 to the visit's Encounter. ADT messages (`update`) write it; results and orders
 * (`ensure`) only reference it, creating a minimal one when the visit is not known yet, so a
 * lab message's bare PV1 never overwrites what the ADT feed said.
 */
export function mapEncounter(ctx: MappingContext, pv1: Hl7Segment, patient: Reference<Patient>, trigger: string, mode: 'update' | 'ensure' = 'update'): MappedEncounter | undefined {
  const visit = visitIdentity(ctx, pv1);
  if (!visit) {
    warn(ctx, 'PV1-19 visit number is empty: no Encounter was written', { segment: 'PV1', segmentIndex: pv1.index, field: 19 });
    return undefined;
  }
  const start = fieldDateTime(ctx, pv1, 44);
  let end = fieldDateTime(ctx, pv1, 45);
  // The status an event sets; A08 (and an event without one) keeps the stored visit's.
  const statusOf = (existing: Encounter | undefined): Status => (trigger === 'A08' || !STATUS_BY_EVENT[trigger] ? (existing?.status ?? (end ? 'finished' : start ? 'in-progress' : 'unknown')) : (STATUS_BY_EVENT[trigger] as Status));
  if (trigger === 'A13') end = undefined; // discharge cancelled: the visit is open again
  const status = statusOf(undefined); // until the stored visit is read
  const pv2 = ctx.message.segment('PV2');
  const classCode = pv1.field(2).value.toUpperCase();
  const current = locationRef(ctx, pv1.field(3).repetition(1));
  const prior = trigger === 'A02' ? locationRef(ctx, pv1.field(6).repetition(1)) : undefined;
  const alternate = identifier(ctx, pv1.field(50).repetition(1));
  const encounter: Encounter = compact({
    resourceType: 'Encounter' as const,
    identifier: [visit, ...(alternate ? [alternate] : [])],
    status,
    class: CLASS[classCode] ?? (classCode ? { system: SYSTEMS.v2('0004'), code: classCode } : UNKNOWN_CLASS),
    type: [codeableConcept(ctx, pv1.field(4).repetition(1), '0007')].filter((c) => c !== undefined),
    // PV1-4 admission type is also the encounter's urgency (E emergency, U urgent …): the
    // follow-up engine reads an acute admission from Encounter.priority.
    priority: codeableConcept(ctx, pv1.field(4).repetition(1), '0007'),
    serviceType: codeableConcept(ctx, pv1.field(10).repetition(1), '0069'),
    subject: patient,
    participant: [
      ...participant(ctx, pv1, 7, 'ATND', 'attender'),
      ...participant(ctx, pv1, 8, 'REF', 'referrer'),
      ...participant(ctx, pv1, 9, 'CON', 'consultant'),
      ...participant(ctx, pv1, 17, 'ADM', 'admitter'),
    ],
    period: start || end ? compact({ start, end }) : undefined,
    reasonCode: pv2 ? [codeableConcept(ctx, pv2.field(3).repetition(1))].filter((c) => c !== undefined) : undefined,
    hospitalization: compact({
      preAdmissionIdentifier: identifier(ctx, pv1.field(5).repetition(1)),
      admitSource: codeableConcept(ctx, pv1.field(14).repetition(1), '0023'),
      reAdmission: codeableConcept(ctx, pv1.field(13).repetition(1), '0092'),
      dischargeDisposition: codeableConcept(ctx, pv1.field(36).repetition(1), '0112'),
    }),
    location: locations(current, undefined, status === 'finished', prior),
    serviceProvider: senderOrganizationRef(ctx),
  });
  // The stored visit, once read (StoreView.settle), decides an A08's status and keeps the beds it was in.
  ctx.store.whenFound('Encounter', identifierQuery(visit), (found) => {
    const existing = found?.resourceType === 'Encounter' ? found : undefined;
    if (!existing) return;
    encounter.status = statusOf(existing);
    const location = locations(current, existing, encounter.status === 'finished', prior);
    if (location.length) encounter.location = location;
  });
  const reference = mode === 'update' ? ctx.bundle.upsert(encounter, visit) : ctx.bundle.ensure(encounter, visit);
  return { reference, identity: visit, resource: encounter };
}

