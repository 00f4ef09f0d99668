import { describe, expect, it } from 'vitest';
import { DerivedCache } from './derived-cache.ts';

describe('DerivedCache', () => {
  it('keeps an answer for its time to live, and drops it on invalidate', async () => {
    const cache = new DerivedCache<number>(60_000);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('a', load)).toBe(1);
    expect(await cache.get('a', load)).toBe(1);
    cache.invalidate();
    expect(await cache.get('a', load)).toBe(2);
  });

  it('does not keep an answer loaded while an invalidation happened', async () => {
    const cache = new DerivedCache<string>(60_000);
    let release!: () => void;
    const slow = cache.get('k', () => new Promise<string>((resolve) => (release = () => resolve('stale'))));
    cache.invalidate();
    release();
    expect(await slow).toBe('stale');
    expect(await cache.get('k', async () => 'fresh')).toBe('fresh');
  });

  it('expires after the time to live and stays within its bound', async () => {
    const expiring = new DerivedCache<number>(0);
    let n = 0;
    await expiring.get('a', async () => ++n);
    expect(await expiring.get('a', async () => ++n)).toBe(2);
    const bounded = new DerivedCache<number>(60_000, 2);
    await bounded.get('a', async () => 1);
    await bounded.get('b', async () => 2);
    await bounded.get('c', async () => 3); // full: emptied, then c kept
    expect(await bounded.get('a', async () => 10)).toBe(10);
  });
});
