/**
 * UCUM canonical forms (https://ucum.org) for quantity search: 14 g/dL and 140 g/L are the same
 * amount, so both are indexed and searched as 140000 g.m-3. Conversion factors come from the
 * NLM's @lhncbc/ucum-lhc and are cached per unit code; units with offsets (Cel, [degF]) and
 * codes that are not valid UCUM have no canonical form and match by their own code only.
 */
import ucum from '@lhncbc/ucum-lhc';

export const UCUM_SYSTEM = 'http://unitsofmeasure.org';

interface Canonical {
  unit: string;
  factor: number;
}

const cache = new Map<string, Canonical | null>();
let utils: { convertToBaseUnits(unit: string, value: number): { status: string; magnitude?: number; unitToExp?: Record<string, number>; fromUnitIsSpecial?: boolean } } | undefined;

function canonicalOf(code: string): Canonical | null {
  let known = cache.get(code);
  if (known !== undefined) return known;
  utils ??= ucum.UcumLhcUtils.getInstance();
  const result = utils.convertToBaseUnits(code, 1);
  known = null;
  if (result.status === 'succeeded' && !result.fromUnitIsSpecial && typeof result.magnitude === 'number' && Number.isFinite(result.magnitude) && result.magnitude !== 0) {
    const unit = Object.entries(result.unitToExp ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([base, exp]) => (exp === 1 ? base : `${base}${exp}`))
      .join('.');
    known = { unit: unit || '1', factor: result.magnitude };
  }
  if (cache.size < 10_000) cache.set(code, known);
  return known;
}

/** The canonical unit and value of `value code` (a UCUM code), or undefined when it has none. */
export function toCanonical(value: number, code: string): { unit: string; value: number } | undefined {
  const c = canonicalOf(code);
  return c ? { unit: c.unit, value: value * c.factor } : undefined;
}

/** The factor to canonical units of a UCUM code, for scaling search ranges. */
export function canonicalFactor(code: string): { unit: string; factor: number } | undefined {
  return canonicalOf(code) ?? undefined;
}
