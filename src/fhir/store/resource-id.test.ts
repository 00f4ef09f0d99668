import { describe, expect, it } from 'vitest';
import { newResourceId } from './resource-id.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** FHIR R4's id datatype. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

describe('newResourceId', () => {
  it('is a UUID version 7 with the RFC 9562 variant and a valid FHIR id', () => {
    for (let i = 0; i < 1000; i++) {
      const id = newResourceId();
      expect(id).toMatch(UUID_V7);
      expect(id).toMatch(FHIR_ID);
    }
  });

  it('carries the creation millisecond in its first 48 bits', () => {
    const at = Date.UTC(2026, 10, 24, 21, 30, 0, 123);
    const id = newResourceId(at);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
    const before = Date.now();
    const fresh = parseInt(newResourceId().replace('-', '').slice(0, 12), 16);
    expect(fresh).toBeGreaterThanOrEqual(before);
    expect(fresh).toBeLessThanOrEqual(Date.now());
  });

  it('sorts by creation time as text (C collation), across a change in the number of hex digits used', () => {
    const times = [0, 1, 15, 16, 255, 256, 0xffffffff, 0x100000000, Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1, 2 ** 48 - 1];
    const ids = times.map((t) => newResourceId(t));
    expect([...ids].sort()).toEqual(ids);
  });

  it('does not repeat within a millisecond', () => {
    const at = Date.now();
    const ids = new Set(Array.from({ length: 100_000 }, () => newResourceId(at)));
    expect(ids.size).toBe(100_000);
  });
});
