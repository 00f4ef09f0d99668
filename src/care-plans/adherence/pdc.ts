/**
 * Proportion of days covered (PDC, Pharmacy Quality Alliance; reference/clinical-rules.md §6): the
 * days in the period covered by at least one fill of the drug class ÷ the days from the first fill
 * to the end of the period. An early refill shifts forward (its days start when the previous supply
 * ends) so days are never counted twice; supply past the period's end does not count. Adherent
 * when ≥ 80 %.
 */

export interface Fill {
  /** Calendar date the supply was handed over (YYYY-MM-DD). */
  date: string;
  daysSupply: number;
}

export interface PdcResult {
  /** 0–1. */
  pdc: number;
  coveredDays: number;
  periodDays: number;
  firstFill: string;
}

const DAY = 86_400_000;
const day = (date: string) => Math.round(Date.parse(`${date}T00:00:00Z`) / DAY);

/** PDC from the first fill to `periodEnd` (inclusive); undefined without fills. */
export function proportionOfDaysCovered(fills: readonly Fill[], periodEnd: string): PdcResult | undefined {
  const sorted = fills.filter((f) => f.daysSupply > 0 && day(f.date) <= day(periodEnd)).sort((a, b) => day(a.date) - day(b.date));
  const first = sorted[0];
  if (!first) return undefined;
  const start = day(first.date);
  const end = day(periodEnd);
  let nextFree = start; // first day not yet covered
  let covered = 0;
  for (const fill of sorted) {
    const from = Math.max(day(fill.date), nextFree);
    const to = Math.min(from + fill.daysSupply - 1, end);
    if (to >= from) covered += to - from + 1;
    nextFree = Math.max(nextFree, from + fill.daysSupply);
  }
  const periodDays = end - start + 1;
  return { pdc: covered / periodDays, coveredDays: covered, periodDays, firstFill: first.date };
}
