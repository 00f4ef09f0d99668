// The dispatcher reads the outbox in (transaction id, event id) order as numbers: a regression test
// for ordering by the text of those ids, which set the cursor behind events already numbered
// whenever a batch crossed a power of ten (…999 → …1000) and numbered them again. One transaction
// of 1,100 Observations crosses event id 1,000 inside a batch; every internal subscriber on
// Observation must number each event exactly once, gap-free.
import { describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'on', SUBSCRIPTION_POLL_MS: '50' });

describe('dispatch order', () => {
  it('numbers each event once when a batch crosses a power of ten', async () => {
    const entry = Array.from({ length: 1100 }, (_, i) => ({
      resource: { resourceType: 'Observation', status: 'final', code: { text: `order-${i}` }, valueInteger: i },
      request: { method: 'POST', url: 'Observation' },
    }));
    const res = await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry } });
    expect(res.status).toBe(200);
    const { rows: range } = await server.pool.query(`SELECT min(event_id)::int AS lo, max(event_id)::int AS hi FROM fhir_event WHERE resource_type = 'Observation'`);
    expect(range[0].lo).toBeLessThan(1000);
    expect(range[0].hi).toBeGreaterThanOrEqual(1000);
    const subscriber = 'internal-observation-alerts';
    const deadline = Date.now() + 60_000;
    let state: { n: number; events: number; top: number } | undefined;
    for (;;) {
      const { rows } = await server.pool.query(
        `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS events, coalesce(max(event_number), 0)::int AS top FROM subscription_notification WHERE subscription_id = $1`,
        [subscriber],
      );
      state = rows[0];
      if (state!.events >= 1100 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toEqual({ n: 1100, events: 1100, top: 1100 });
  }, 90_000);
});
