// The deliveries' version cache: versions asked for in the same tick are read in one statement
// (FhirStore.vreadMany), a cached version is not read again, a missing version is an error and is
// not kept, and a delete's tombstone has no content.
import { describe, expect, it } from 'vitest';
import { PgFhirStore } from '../src/fhir/index.ts';
import type { FhirStore } from '../src/fhir/index.ts';
import { VersionContentCache } from '../src/subscriptions/engine/version-cache.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

describe('VersionContentCache', () => {
  it('reads a tick’s versions together, once each', async () => {
    const store = new PgFhirStore(server.pool);
    const calls: number[] = [];
    // The real store, its bulk read counted.
    const counted = new Proxy(store, {
      get: (target, prop) => (prop === 'vreadMany' ? (keys: unknown[]) => (calls.push(keys.length), target.vreadMany(keys as never)) : Reflect.get(target, prop, target)),
    }) as FhirStore;
    const a = await store.create({ resourceType: 'Basic', code: { text: 'a' } } as never);
    const a2 = await store.update({ resourceType: 'Basic', id: a.version.id, code: { text: 'a2' } } as never);
    const b = await store.create({ resourceType: 'Basic', code: { text: 'b' } } as never);
    const gone = await store.delete('Basic', b.version.id);
    const cache = new VersionContentCache(counted);
    const [v1, v2, vb, tomb] = await Promise.all([
      cache.read('Basic', a.version.id, 1),
      cache.read('Basic', a.version.id, 2), // current version; version 1 is in history
      cache.read('Basic', b.version.id, 1),
      cache.read('Basic', b.version.id, gone.version.versionId),
    ]);
    expect(calls).toEqual([4]);
    expect(JSON.parse(v1!).code.text).toBe('a');
    expect(v2).toBe(a2.version.content);
    expect(JSON.parse(vb!).code.text).toBe('b');
    expect(tomb).toBeUndefined();
    // Cached: no new read.
    expect(await cache.read('Basic', a.version.id, 2)).toBe(v2);
    expect(calls).toEqual([4]);
    // A version that does not exist: rejected, not kept (the next ask reads again).
    await expect(cache.read('Basic', a.version.id, 9)).rejects.toThrow(/has no version 9/);
    await expect(cache.read('Basic', a.version.id, 9)).rejects.toThrow(/has no version 9/);
    expect(calls).toEqual([4, 1, 1]);
  });
});
