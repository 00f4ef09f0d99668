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
    const subscriber = 'internal-observation-follow-up';
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

describe('dispatch pass size', () => {
  it('cuts a pass at 5,000 notifications and numbers the rest in the next, gap-free', async () => {
    // 10 websocket subscriptions (no client bound: notifications are stored, not sent) plus the
    // internal Observation subscribers: 600 matching writes are 7,800 notifications, more than
    // one pass may store.
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await server.fhir('Subscription', {
        method: 'POST',
        body: { resourceType: 'Subscription', status: 'requested', reason: 'pass size', criteria: 'Observation?code=http://example.org|cut', channel: { type: 'websocket' } },
      });
      expect(res.status).toBe(201);
      ids.push((res.body as { id: string }).id);
    }
    const deadline = Date.now() + 30_000;
    while ((await server.pool.query(`SELECT 1 FROM fhir_resource WHERE resource_type = 'Subscription' AND content::jsonb->>'status' = 'active' AND id = ANY($1)`, [ids])).rowCount! < 10) {
      if (Date.now() > deadline) throw new Error('subscriptions did not become active');
      await new Promise((r) => setTimeout(r, 50));
    }
    const entry = Array.from({ length: 600 }, (_, i) => ({
      resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://example.org', code: 'cut' }] }, valueInteger: i },
      request: { method: 'POST', url: 'Observation' },
    }));
    expect((await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry } })).status).toBe(200);
    let counts: Array<{ n: number; events: number; top: number }> = [];
    while (Date.now() < deadline + 60_000) {
      ({ rows: counts } = await server.pool.query(
        `SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS events, coalesce(max(event_number), 0)::int AS top
           FROM unnest($1::text[]) AS s(id) LEFT JOIN subscription_notification n ON n.subscription_id = s.id GROUP BY s.id`,
        [ids],
      ));
      if (counts.every((c) => c.events >= 600)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(counts).toEqual(Array(10).fill({ n: 600, events: 600, top: 600 }));
    // Every row of a pass has that transaction's start time as created_at.
    const { rows: passes } = await server.pool.query(
      `SELECT created_at, count(*)::int AS n FROM subscription_notification WHERE event_id IN (
         SELECT event_id FROM fhir_event WHERE resource_type = 'Observation' AND resource_id IN (SELECT id FROM fhir_resource WHERE resource_type = 'Observation' AND content LIKE '%"cut"%'))
        GROUP BY created_at`,
    );
    expect(passes.length).toBeGreaterThan(1);
    expect(Math.max(...passes.map((p: { n: number }) => p.n))).toBeLessThanOrEqual(5_000);
  }, 120_000);
});
