/**
 * HOSPITAL score for potentially avoidable 30-day readmission (Donzé et al., JAMA Intern Med
 * 2013;173:632-8), as in reference/clinical-rules.md §3: Haemoglobin < 12 g/dL at discharge 1,
 * discharge from Oncology 2, Sodium < 135 mmol/L at discharge 1, Procedure during the stay 1,
 * Index admission urgent 1, Admissions in the previous 12 months (0–1: 0, 2–5: 2, > 5: 5),
 * Length of stay ≥ 5 days 2. Bands 0–4 low, 5–6 intermediate, ≥ 7 high. Needs the discharge
 * haemoglobin and sodium: without them there is no score (undefined), never a guess.
 */

export interface HospitalInput {
  /** Haemoglobin at discharge, g/dL (convert g/L by dividing by 10 first). */
  haemoglobinGdl: number | undefined;
  /** Sodium at discharge, mmol/L. */
  sodiumMmolL: number | undefined;
  oncologyDischarge: boolean;
  procedureDuringStay: boolean;
  urgentAdmission: boolean;
  admissionsPrevious12Months: number;
  lengthOfStayDays: number;
}

export interface HospitalResult {
  total: number;
  band: 'low' | 'intermediate' | 'high';
  components: { H: number; O: number; S: number; P: number; I: number; A: number; L: number };
}

export function hospitalScore(input: HospitalInput): HospitalResult | undefined {
  if (input.haemoglobinGdl === undefined || input.sodiumMmolL === undefined) return undefined;
  const admissions = input.admissionsPrevious12Months;
  const components = {
    H: input.haemoglobinGdl < 12 ? 1 : 0,
    O: input.oncologyDischarge ? 2 : 0,
    S: input.sodiumMmolL < 135 ? 1 : 0,
    P: input.procedureDuringStay ? 1 : 0,
    I: input.urgentAdmission ? 1 : 0,
    A: admissions > 5 ? 5 : admissions >= 2 ? 2 : 0,
    L: input.lengthOfStayDays >= 5 ? 2 : 0,
  };
  const total = Object.values(components).reduce((a, b) => a + b, 0);
  return { total, band: total >= 7 ? 'high' : total >= 5 ? 'intermediate' : 'low', components };
}
