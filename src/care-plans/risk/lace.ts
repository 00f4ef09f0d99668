/**
 * LACE index for 30-day readmission or death (van Walraven et al., CMAJ 2010;182:551-7), as in
 * reference/clinical-rules.md §3: L length of stay, A acute admission, C comorbidity (Charlson
 * conditions with LACE's own points, summed, 4 or more scores 5), E emergency visits in the six
 * months before the admission (at most 4). Bands 0–4 low, 5–9 moderate, ≥ 10 high (a common
 * convention; configurable).
 */
import type { ComorbidityMatch } from './comorbidity.ts';

export interface LaceInput {
  lengthOfStayDays: number;
  acuteAdmission: boolean;
  comorbidities: readonly ComorbidityMatch[];
  /** ED visits in the 6 months before admission, not counting the one that led to it. */
  emergencyVisits6Months: number;
}

export interface LaceResult {
  total: number;
  band: 'low' | 'moderate' | 'high';
  components: { L: number; A: number; C: number; E: number };
  /** Comorbidity points before the ≥ 4 → 5 rule. */
  comorbidityPoints: number;
}

export function lacePointsForStay(days: number): number {
  if (days < 1) return 0;
  if (days <= 3) return days;
  if (days <= 6) return 4;
  if (days <= 13) return 5;
  return 7;
}

export function laceScore(input: LaceInput, bands = { moderate: 5, high: 10 }): LaceResult {
  if (!Number.isInteger(input.lengthOfStayDays) || input.lengthOfStayDays < 0) throw new RangeError('lengthOfStayDays must be a non-negative integer');
  if (!Number.isInteger(input.emergencyVisits6Months) || input.emergencyVisits6Months < 0) throw new RangeError('emergencyVisits6Months must be a non-negative integer');
  const comorbidityPoints = input.comorbidities.reduce((sum, m) => sum + m.condition.lace, 0);
  const components = {
    L: lacePointsForStay(input.lengthOfStayDays),
    A: input.acuteAdmission ? 3 : 0,
    C: comorbidityPoints >= 4 ? 5 : comorbidityPoints,
    E: Math.min(input.emergencyVisits6Months, 4),
  };
  const total = components.L + components.A + components.C + components.E;
  return { total, band: total >= bands.high ? 'high' : total >= bands.moderate ? 'moderate' : 'low', components, comorbidityPoints };
}
