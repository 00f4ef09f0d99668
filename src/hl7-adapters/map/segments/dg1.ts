/**
 * DG1 → Condition (IG DG1[Condition] map) and the Encounter.diagnosis entry pointing at it
 * (DG1[Encounter]). Diagnoses in 疾病分类与代码国家临床版 2.0 (I10.x00) also get the WHO ICD-10
 * code they extend (I10), so rules written against ICD-10 (Charlson, readmission risk) match them.
 */
import { derivedIdentifierValue } from '../bundle-builder.ts';
import type { CodeableConcept, Condition, Encounter, EncounterDiagnosis, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import type { Hl7Segment } from '../../parse/segment.ts';
import { SYSTEMS } from '../code-systems.ts';
import type { MappingContext } from '../context.ts';
import { MappingError } from '../context.ts';
import { codeableConcept, compact, entityIdentifier, fieldDateTime } from '../datatypes.ts';
import { practitionerRef } from './participants.ts';

/** The WHO ICD-10 code a Chinese clinical-version code extends: I10.x00 → I10, E11.900 → E11.9. */
export function whoIcd10Of(code: string): string | undefined {
  const m = /^([A-Z]\d{2})(?:\.(\d))?/.exec(code.trim().toUpperCase());
  if (!m) return undefined;
  return m[2] ? `${m[1]}.${m[2]}` : m[1];
}

function withWhoCoding(concept: CodeableConcept): CodeableConcept {
  const national = concept.coding?.find((c) => c.system === SYSTEMS.icd10CnClinical || c.system === SYSTEMS.icd10CnInsurance);
  const who = national?.code && whoIcd10Of(national.code);
  if (who && !concept.coding?.some((c) => c.system === SYSTEMS.icd10)) concept.coding = [...(concept.coding ?? []), { system: SYSTEMS.icd10, code: who }];
  return concept;
}

/**
 * Table 0052 diagnosis type → diagnosis role (IG DiagnosisType map: A → AD). The IG leaves F and W
 * unmapped; F (final) is the discharge diagnosis (DD) in Chinese 病案首页 practice (出院诊断), W
 * (working) keeps its v2 code.
 */
const ROLE: Readonly<Record<string, string>> = { A: 'AD', F: 'DD' };

export function mapDiagnosis(
  ctx: MappingContext,
  dg1: Hl7Segment,
  patient: { reference: Reference<Patient>; identity: Identifier },
  encounter: { reference: Reference<Encounter>; identity: Identifier } | undefined,
): EncounterDiagnosis | undefined {
  const code = codeableConcept(ctx, dg1.field(3).repetition(1), '0051');
  if (!code) {
    const text = dg1.field(4).value.trim();
    if (!text) throw new MappingError('DG1-3 diagnosis code is empty', '101', { segment: 'DG1', segmentIndex: dg1.index, field: 3 });
  }
  const concept = withWhoCoding(code ?? { text: dg1.field(4).value.trim() });
  const type = dg1.field(6).value.toUpperCase();
  const own = entityIdentifier(ctx, dg1.field(20).repetition(1));
  const key = concept.coding?.[0]?.code ?? concept.text ?? '';
  // Without DG1-20 a diagnosis is identified by its encounter, type and code: the same diagnosis
  // re-sent (A08, A03 after A01) updates the same Condition.
  const identity: Identifier = own ?? {
    system: 'https://fhir.carebridge.cn/NamingSystem/hl7-diagnosis',
    value: derivedIdentifierValue(...(encounter ? [encounter.identity.system, encounter.identity.value] : [patient.identity.system, patient.identity.value]), type, key),
  };
  const condition: Condition = compact({
    resourceType: 'Condition' as const,
    identifier: [identity],
    clinicalStatus: { coding: [{ system: SYSTEMS.conditionClinical, code: 'active' }] },
    verificationStatus: { coding: [{ system: SYSTEMS.conditionVerification, code: type === 'W' ? 'provisional' : 'confirmed' }] },
    category: [{ coding: [{ system: SYSTEMS.conditionCategory, code: 'encounter-diagnosis', display: 'Encounter Diagnosis' }] }],
    code: concept,
    subject: patient.reference,
    encounter: encounter?.reference,
    onsetDateTime: fieldDateTime(ctx, dg1, 5),
    recordedDate: fieldDateTime(ctx, dg1, 19),
    recorder: practitionerRef(ctx, dg1.field(16).repetition(1)),
  });
  const reference = ctx.bundle.upsert(condition, identity);
  const role = ROLE[type];
  const rank = Number(dg1.field(15).value);
  return compact({
    condition: reference,
    use: role ? { coding: [{ system: SYSTEMS.diagnosisRole, code: role }] } : codeableConcept(ctx, dg1.field(6).repetition(1), '0052'),
    rank: Number.isInteger(rank) && rank > 0 ? rank : Number(dg1.field(1).value) || undefined,
  });
}
