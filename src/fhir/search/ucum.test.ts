// UCUM canonical comparison for quantity search (http://hl7.org/fhir/R4/search.html#quantity).
import { describe, expect, it } from 'vitest';
import { toCanonical } from './ucum.ts';

describe('toCanonical', () => {
  it('maps equal amounts in different units to the same canonical value', () => {
    const a = toCanonical(14, 'g/dL')!;
    const b = toCanonical(140, 'g/L')!;
    expect(a.unit).toBe(b.unit);
    expect(a.value).toBeCloseTo(b.value, 6);
    expect(toCanonical(70, 'kg')!.value).toBeCloseTo(toCanonical(70000, 'g')!.value, 6);
  });

  it('has no canonical form for offset units and invalid codes', () => {
    expect(toCanonical(37, 'Cel')).toBeUndefined();
    expect(toCanonical(1, 'not-a-unit')).toBeUndefined();
  });

  it('keeps dimensionless and rate units apart from mass units', () => {
    expect(toCanonical(7, '%')!.unit).not.toBe(toCanonical(7, 'g')!.unit);
    expect(toCanonical(70, '/min')!.unit).toBe('s-1');
  });
});
