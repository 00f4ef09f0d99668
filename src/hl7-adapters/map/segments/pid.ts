/**
 * PID (and PD1) → Patient, after the IG's PID[Patient] map, with the Chinese identifiers of
 * WS/T 500: resident ID (urn:oid:2.16.156.10011.1.3, check digit validated), inpatient number
 * (.1.12), medical-record number (.1.13), health insurance card.
 */
import type { CodeableConcept, Extension, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import type { Hl7Segment } from '../../parse/segment.ts';
import { identifierQuery } from '../bundle-builder.ts';
import { SYSTEMS } from '../code-systems.ts';
import type { MappingContext } from '../context.ts';
import { MappingError, warn } from '../context.ts';
import { address, codeableConcept, compact, contactPoint, fieldDate, fieldDateTime, humanName, identifier } from '../datatypes.ts';
import { RESIDENT_ID_SYSTEM, residentIdProblem } from '../resident-id.ts';
import { practitionerRef } from './participants.ts';

export const ETHNICITY_EXTENSION = 'https://fhir.carebridge.cn/StructureDefinition/ethnicity';
export const NATIONALITY_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/patient-nationality';

type Gender = NonNullable<Patient['gender']>;

/** Table 0001 (IG AdministrativeSex map) and GB/T 2261.1 (1 male, 2 female, 0 unknown, 9 unspecified). */
const GENDER: Readonly<Record<string, Gender>> = { M: 'male', F: 'female', O: 'other', A: 'other', N: 'other', U: 'unknown', '1': 'male', '2': 'female', '0': 'unknown', '9': 'unknown' };

async function gender(ctx: MappingContext, pid: Hl7Segment): Promise<Gender | undefined> {
  const code = pid.field(8).value.trim();
  if (!code) return undefined;
  const known = GENDER[code.toUpperCase()];
  if (known) return known;
  const local = { system: ctx.systems.uri('sex'), code };
  const translated = (await ctx.translate(local)).find((c) => c.system === 'http://hl7.org/fhir/administrative-gender');
  if (translated?.code) return translated.code as Gender;
  ctx.unmapped.push(local);
  warn(ctx, `sex code "${code}" is neither HL7 Table 0001 nor GB/T 2261.1 and no ConceptMap translates it; gender set to unknown`, { segment: 'PID', segmentIndex: pid.index, field: 8 });
  return 'unknown';
}

/** PID-3 identifiers; an invalid resident ID is left out (it must not match anyone), with a warning. */
function identifiers(ctx: MappingContext, pid: Hl7Segment): Identifier[] {
  const ids: Identifier[] = [];
  // PID-3 patient identifier list, then PID-2 (external id, withdrawn in v2.7 but still sent).
  for (const rep of [...pid.field(3).repetitions, ...pid.field(2).repetitions]) {
    const id = identifier(ctx, rep);
    if (!id) continue;
    if (id.system === RESIDENT_ID_SYSTEM) {
      const problem = residentIdProblem(id.value ?? '');
      if (problem) {
        warn(ctx, `resident ID ${id.value} is not valid: ${problem}; it was not stored`, { segment: 'PID', segmentIndex: pid.index, field: 3 });
        continue;
      }
      id.value = id.value?.toUpperCase();
    }
    if (!ids.some((o) => o.system === id.system && o.value === id.value)) ids.push(id);
  }
  return ids;
}

/** The identifier a patient is matched on: by the sender's preferred types, else the first. */
export function primaryIdentifier(ctx: MappingContext, ids: readonly Identifier[]): Identifier | undefined {
  for (const type of ctx.sender.patientKeyTypes) {
    const found = ids.find((i) => i.type?.coding?.some((c) => c.code?.toUpperCase() === type.toUpperCase()));
    if (found) return found;
  }
  return ids[0];
}

function extensions(ctx: MappingContext, pid: Hl7Segment): Extension[] {
  const out: Extension[] = [];
  const ethnicity = codeableConcept(ctx, pid.field(22).repetition(1), undefined);
  // PID-22 in Chinese messages carries 民族 (GB/T 3304); with no system named, assume it.
  if (ethnicity) {
    for (const c of ethnicity.coding ?? []) if (pid.field(22).repetition(1).component(3) === '') c.system = SYSTEMS.gbt3304;
    out.push({ url: ETHNICITY_EXTENSION, valueCodeableConcept: ethnicity });
  }
  const nationality = codeableConcept(ctx, pid.field(28).repetition(1));
  if (nationality) out.push({ url: NATIONALITY_EXTENSION, extension: [{ url: 'code', valueCodeableConcept: nationality }] });
  return out;
}

function deceased(ctx: MappingContext, pid: Hl7Segment): Pick<Patient, 'deceasedBoolean' | 'deceasedDateTime'> {
  const when = fieldDateTime(ctx, pid, 29);
  if (when) return { deceasedDateTime: when };
  const flag = pid.field(30).value.toUpperCase();
  return flag === 'Y' ? { deceasedBoolean: true } : flag === 'N' ? { deceasedBoolean: false } : {};
}

/**
 * An ADT replaces the Patient with the message's demographics, but links made by an A40 merge are
 * not demographics: they are kept, and a record retired by a merge stays retired (once the stored
 * Patient is read: StoreView.settle).
 */
function keepMergeState(ctx: MappingContext, patient: Patient, identity: Identifier): void {
  ctx.store.whenFound('Patient', identifierQuery(identity), (found) => {
    const existing = found?.resourceType === 'Patient' ? found : undefined;
    if (!existing?.link?.length) return;
    patient.link = existing.link;
    if (existing.active === false && existing.link.some((l) => l.type === 'replaced-by')) patient.active = false;
  });
}

export interface MappedPatient {
  reference: Reference<Patient>;
  identity: Identifier;
  resource: Patient;
}

/**
 * Maps PID to a Patient. With `mode: 'update'` (ADT) the Patient is replaced by this message's
 * demographics; with `mode: 'ensure'` (results, orders) an existing Patient is only referenced.
 */
export async function mapPatient(ctx: MappingContext, pid: Hl7Segment | undefined, mode: 'update' | 'ensure'): Promise<MappedPatient> {
  if (!pid) throw new MappingError('the message has no PID segment', '100', { segment: 'PID' });
  const ids = identifiers(ctx, pid);
  const identity = primaryIdentifier(ctx, ids);
  if (!identity) throw new MappingError('PID-3 has no usable patient identifier', '101', { segment: 'PID', segmentIndex: pid.index, field: 3 });
  const birthDate = fieldDate(pid, 7);
  const pd1 = ctx.message.segment('PD1');
  const language = codeableConcept(ctx, pid.field(15).repetition(1), '0296');
  const patient: Patient = compact({
    resourceType: 'Patient' as const,
    extension: extensions(ctx, pid),
    identifier: ids,
    active: true,
    name: pid.field(5).repetitions.map(humanName).filter((n) => n !== undefined),
    telecom: [...pid.field(13).repetitions, ...pid.field(14).repetitions].map(contactPoint).filter((c) => c !== undefined),
    gender: await gender(ctx, pid),
    birthDate,
    ...deceased(ctx, pid),
    address: pid.field(11).repetitions.map(address).filter((a) => a !== undefined),
    maritalStatus: codeableConcept(ctx, pid.field(16).repetition(1), '0002') as CodeableConcept | undefined,
    multipleBirthInteger: /^\d+$/.test(pid.field(25).value) ? Number(pid.field(25).value) : undefined,
    communication: language ? [{ language, preferred: true }] : undefined,
  });
  const gp = pd1 && practitionerRef(ctx, pd1.field(4).repetition(1));
  if (gp) patient.generalPractitioner = [gp];
  if (mode === 'update') keepMergeState(ctx, patient, identity);
  const reference = mode === 'update' ? ctx.bundle.upsert(patient, identity) : ctx.bundle.ensure(patient, identity);
  return { reference, identity, resource: patient };
}
