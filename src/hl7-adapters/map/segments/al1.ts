/** AL1 → AllergyIntolerance (IG AL1[AllergyIntolerance] map and its AllergenType/AllergySeverity maps). */
import { derivedIdentifierValue } from '../bundle-builder.ts';
import type { AllergyIntolerance, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import type { Hl7Segment } from '../../parse/segment.ts';
import { SYSTEMS } from '../code-systems.ts';
import type { MappingContext } from '../context.ts';
import { MappingError } from '../context.ts';
import { codeableConcept, compact, fieldDate } from '../datatypes.ts';

type Category = NonNullable<AllergyIntolerance['category']>[number];
/** Table 0127 allergen type → category (IG AllergenType map; MA, MC unmapped). */
const CATEGORY: Readonly<Record<string, Category>> = { DA: 'medication', FA: 'food', EA: 'environment', AA: 'biologic', PA: 'environment', LA: 'environment' };
/** Table 0128 severity → criticality (IG AllergySeverity map: SV → high, MI → low; MO and U unmapped). */
const CRITICALITY: Readonly<Record<string, AllergyIntolerance['criticality']>> = { SV: 'high', MI: 'low' };
const SEVERITY: Readonly<Record<string, 'mild' | 'moderate' | 'severe'>> = { SV: 'severe', MO: 'moderate', MI: 'mild' };

export function mapAllergy(ctx: MappingContext, al1: Hl7Segment, patient: Reference<Patient>, patientIdentity: Identifier): Reference<AllergyIntolerance> {
  const code = codeableConcept(ctx, al1.field(3).repetition(1));
  if (!code) throw new MappingError('AL1-3 allergen is empty', '101', { segment: 'AL1', segmentIndex: al1.index, field: 3 });
  const typeCode = al1.field(2).value.toUpperCase();
  const severity = al1.field(4).value.toUpperCase();
  const identity: Identifier = {
    system: 'https://fhir.carebridge.cn/NamingSystem/hl7-allergy',
    value: derivedIdentifierValue(patientIdentity.system, patientIdentity.value, code.coding?.[0]?.system, code.coding?.[0]?.code ?? code.text),
  };
  const manifestation = al1.field(5).repetitions.map((r) => r.value.trim()).filter(Boolean).map((text) => ({ text }));
  const allergy: AllergyIntolerance = compact({
    resourceType: 'AllergyIntolerance' as const,
    identifier: [identity],
    clinicalStatus: { coding: [{ system: SYSTEMS.allergyClinical, code: 'active' }] },
    verificationStatus: { coding: [{ system: SYSTEMS.allergyVerification, code: 'confirmed' }] },
    type: 'allergy' as const,
    category: CATEGORY[typeCode] ? [CATEGORY[typeCode]] : undefined,
    criticality: CRITICALITY[severity],
    code,
    patient,
    onsetDateTime: fieldDate(al1, 6),
    reaction: manifestation.length ? [compact({ manifestation, severity: SEVERITY[severity] })] : undefined,
  });
  return ctx.bundle.upsert(allergy, identity);
}
