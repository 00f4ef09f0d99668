import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './backoff.ts';

describe('retryDelayMs', () => {
  it('doubles per attempt up to the cap, with jitter between half and the whole delay', () => {
    const options = { baseMs: 1000, maxMs: 60_000 };
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, options, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(3, options, () => 0)).toBe(2000);
    expect(retryDelayMs(30, options, () => 1)).toBe(60_000);
    expect(retryDelayMs(30, options, () => 0)).toBe(30_000);
  });
});
