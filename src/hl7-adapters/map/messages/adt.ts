/**
 * ADT A01, A02, A03, A04, A05, A08, A11, A13 → Patient, RelatedPerson (NK1), Encounter (PV1/PV2),
 * Condition (DG1), AllergyIntolerance (AL1), Observation (OBX) — the IG's ADT_A01 message map
 * applied to every ADT trigger (the IG has no ADT_A03 map; A03 uses the same segments with the
 * discharge fields PV1-36 and PV1-45).
 */
import { derivedIdentifierValue } from '../bundle-builder.ts';
import type { MappingContext } from '../context.ts';
import { mapAllergy } from '../segments/al1.ts';
import { mapDiagnosis } from '../segments/dg1.ts';
import { mapRelatedPerson } from '../segments/nk1.ts';
import { mapObservation } from '../segments/obx.ts';
import { mapPatient } from '../segments/pid.ts';
import { mapEncounter } from '../segments/pv1.ts';

export async function mapAdt(ctx: MappingContext, trigger: string): Promise<void> {
  const m = ctx.message;
  const pid = m.segment('PID');
  const pv1 = m.segment('PV1');
  const patient = await mapPatient(ctx, pid, 'update');
  for (const nk1 of m.segments('NK1')) mapRelatedPerson(ctx, nk1, patient.reference, patient.identity);
  const encounter = pv1 ? mapEncounter(ctx, pv1, patient.reference, trigger) : undefined;
  const diagnoses = m.segments('DG1').map((dg1) => mapDiagnosis(ctx, dg1, patient, encounter)).filter((d) => d !== undefined);
  if (encounter && diagnoses.length) encounter.resource.diagnosis = diagnoses;
  for (const al1 of m.segments('AL1')) mapAllergy(ctx, al1, patient.reference, patient.identity);
  const scope = encounter ? derivedIdentifierValue(encounter.identity.system, encounter.identity.value) : derivedIdentifierValue(patient.identity.system, patient.identity.value);
  const effective = encounter?.resource.period?.start;
  for (const obx of m.segments('OBX')) mapObservation(ctx, obx, { patient: patient.reference, encounter: encounter?.reference, scope, effective });
}
