/**
 * HL7 v2 coding-system names (CWE-3, CX-5 tables; HL7 Table 0396) → FHIR code system URIs.
 *
 * Well-known names map to their official URIs (terminology.hl7.org, LOINC, SNOMED CT, UCUM, …).
 * Chinese national code sets that have no published FHIR URI get a CareBridge-defined one under
 * CAREBRIDGE_CODE_SYSTEMS. Anything else is a sender's local code system: it keeps the sender's
 * name under a per-facility URI (`…/local/{facility}/{name}`), so codes from two hospitals never
 * collide, and is a candidate for translation with a ConceptMap (see translate-codes.ts).
 * A sender's configuration (`codeSystems`) overrides all of this.
 */

export const CAREBRIDGE_CODE_SYSTEMS = 'https://fhir.carebridge.cn/CodeSystem';

export const SYSTEMS = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  ucum: 'http://unitsofmeasure.org',
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  /** 疾病分类与代码国家临床版 2.0 (ICD-10 based, e.g. I10.x00). */
  icd10CnClinical: `${CAREBRIDGE_CODE_SYSTEMS}/icd-10-cn-clinical-2.0`,
  /** 医保版 2.0 diagnosis codes. */
  icd10CnInsurance: `${CAREBRIDGE_CODE_SYSTEMS}/icd-10-cn-insurance-2.0`,
  /** GB/T 3304 民族 (ethnic groups of China). */
  gbt3304: `${CAREBRIDGE_CODE_SYSTEMS}/gb-t-3304`,
  /** GB/T 2261.1 人的性别代码 (0 unknown, 1 male, 2 female, 9 unspecified). */
  gbt2261: `${CAREBRIDGE_CODE_SYSTEMS}/gb-t-2261.1`,
  v3ActCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  v3Interpretation: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  v3ParticipationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  v3RoleCode: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode',
  conditionCategory: 'http://terminology.hl7.org/CodeSystem/condition-category',
  conditionClinical: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
  conditionVerification: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  diagnosisRole: 'http://terminology.hl7.org/CodeSystem/diagnosis-role',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  allergyClinical: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
  allergyVerification: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
  provenanceAgentType: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
  v2: (table: string) => `http://terminology.hl7.org/CodeSystem/v2-${table.padStart(4, '0')}`,
} as const;

const WELL_KNOWN: Readonly<Record<string, string>> = {
  LN: SYSTEMS.loinc,
  LOINC: SYSTEMS.loinc,
  SCT: SYSTEMS.snomed,
  SNM: SYSTEMS.snomed,
  SNOMED: SYSTEMS.snomed,
  UCUM: SYSTEMS.ucum,
  I10: SYSTEMS.icd10,
  'ICD-10': SYSTEMS.icd10,
  ICD10: SYSTEMS.icd10,
  I10C: 'http://hl7.org/fhir/sid/icd-10-cm',
  I9C: 'http://hl7.org/fhir/sid/icd-9-cm',
  // WHO ATC: WC in HL7 table 0396; ATC as hospital systems commonly write it.
  WC: 'http://www.whocc.no/atc',
  ATC: 'http://www.whocc.no/atc',
  RXN: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  CVX: 'http://hl7.org/fhir/sid/cvx',
  NDC: 'http://hl7.org/fhir/sid/ndc',
  ISO3166: 'urn:iso:std:iso:3166',
  ISO639: 'urn:ietf:bcp:47',
  'ICD10-CN-NHC-2.0': SYSTEMS.icd10CnClinical,
  'ICD10-CN': SYSTEMS.icd10CnClinical,
  GJLCB: SYSTEMS.icd10CnClinical,
  'ICD10-CN-YB-2.0': SYSTEMS.icd10CnInsurance,
  GB3304: SYSTEMS.gbt3304,
  'GB/T3304': SYSTEMS.gbt3304,
  'GB/T2261.1': SYSTEMS.gbt2261,
  GB2261: SYSTEMS.gbt2261,
};

/** Systems whose codes are standard: never sent to ConceptMap translation, never "unmapped". */
export function isStandardSystem(uri: string): boolean {
  return !uri.startsWith(`${CAREBRIDGE_CODE_SYSTEMS}/local/`);
}

export interface CodeSystemResolver {
  /** The URI for a v2 coding-system name ('' = the field's default table, else sender-local). */
  uri(name: string, defaultTable?: string): string;
}

/** Resolves names with the sender's overrides first, then the built-in names, then as local. */
export function codeSystemResolver(facility: string, overrides: Readonly<Record<string, string>>): CodeSystemResolver {
  const local = (name: string) => `${CAREBRIDGE_CODE_SYSTEMS}/local/${encodeURIComponent(facility || 'unknown')}/${encodeURIComponent(name)}`;
  return {
    uri(name, defaultTable) {
      const key = name.trim();
      if (key === '') return defaultTable ? SYSTEMS.v2(defaultTable) : local('L');
      const override = overrides[key];
      if (override) return override;
      const upper = key.toUpperCase();
      const known = WELL_KNOWN[upper];
      if (known) return known;
      const table = /^HL7(\d{3,4})$/.exec(upper);
      if (table) return SYSTEMS.v2(table[1]!);
      return local(key);
    },
  };
}
