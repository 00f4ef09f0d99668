import { describe, expect, it } from 'vitest';
import { addDuration, TestClock } from './clock.ts';

describe('addDuration', () => {
  const start = new Date('2024-01-31T10:00:00Z');
  it('adds days, weeks and times as fixed lengths', () => {
    expect(addDuration(start, 'P3D').toISOString()).toBe('2024-02-03T10:00:00.000Z');
    expect(addDuration(start, 'P2W').toISOString()).toBe('2024-02-14T10:00:00.000Z');
    expect(addDuration(start, 'PT36H').toISOString()).toBe('2024-02-01T22:00:00.000Z');
    expect(addDuration(start, 'P1DT2H30M15.5S').toISOString()).toBe('2024-02-01T12:30:15.500Z');
  });
  it('adds months and years on the calendar', () => {
    expect(addDuration(new Date('2024-03-15T00:00:00Z'), 'P1M').toISOString()).toBe('2024-04-15T00:00:00.000Z');
    expect(addDuration(new Date('2024-03-15T00:00:00Z'), 'P1Y2M').toISOString()).toBe('2025-05-15T00:00:00.000Z');
  });
  it('refuses what is not a duration', () => {
    for (const bad of ['', 'P', 'PT', '3D', 'P-3D', 'P3', 'PT1D', 'P1.5D', 'p3d']) expect(() => addDuration(start, bad), bad).toThrow(RangeError);
  });
});

describe('TestClock', () => {
  it('jumps and keeps running', async () => {
    const clock = new TestClock();
    const set = clock.set(new Date('2024-03-22T02:00:00Z'));
    expect(Math.abs(set.getTime() - Date.parse('2024-03-22T02:00:00Z'))).toBeLessThan(50);
    await new Promise((r) => setTimeout(r, 30));
    expect(clock.now().getTime()).toBeGreaterThan(set.getTime());
    const later = clock.advance('P3D');
    expect(Math.abs(later.getTime() - Date.parse('2024-03-25T02:00:00Z'))).toBeLessThan(200);
  });
});
