/**
 * Proportion of days covered (PDC, Pharmacy Quality Alliance; reference/clinical-rules.md §6): the
 * days in the period covered by at least one fill of the drug class ÷ the days from the first fill
 * to the end of the period. An early refill shifts forward (its days start when the previous supply
 * ends) so days are never counted twice; supply past the period's end does not count. Adherent
 * when ≥ 80 %. With a measurement period start, a fill before it whose supply runs into the period
 * counts for the days inside it (carry-in), and the treatment period starts no earlier than it.
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

export const ADHERENT_PDC = 0.8;

/**
 * PDC from the first fill (or `periodStart`, if later) to `periodEnd`, both inclusive; undefined
 * when no supply falls inside the period.
 */
export function proportionOfDaysCovered(fills: readonly Fill[], periodEnd: string, periodStart?: string): PdcResult | undefined {
  const end = day(periodEnd);
  const floor = periodStart === undefined ? -Infinity : day(periodStart);
  const sorted = fills.filter((f) => f.daysSupply > 0 && day(f.date) <= end).sort((a, b) => day(a.date) - day(b.date));
  const first = sorted[0];
  if (!first) return undefined;
  let nextFree = day(first.date); // first day not yet covered
  let covered = 0;
  let firstCovered: number | undefined;
  for (const fill of sorted) {
    const from = Math.max(day(fill.date), nextFree);
    nextFree = Math.max(nextFree, from + fill.daysSupply);
    const inFrom = Math.max(from, floor);
    const inTo = Math.min(from + fill.daysSupply - 1, end);
    if (inTo < inFrom) continue;
    covered += inTo - inFrom + 1;
    firstCovered ??= inFrom;
  }
  if (firstCovered === undefined) return undefined;
  const start = Math.max(day(first.date), floor);
  const periodDays = end - start + 1;
  return { pdc: covered / periodDays, coveredDays: covered, periodDays, firstFill: first.date };
}
