// R4 classic websocket subscriptions with a real websocket client (issue 5): the URL advertised in
// the CapabilityStatement, bind/bound, a ping per matching write, and no loss across a dropped
// connection — notifications stay pending until a client binds again, then come in order.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'on', SUBSCRIPTION_POLL_MS: '50' });

function client(url: string): Promise<{ ws: WebSocket; messages: string[]; next: (pred: (m: string) => boolean, timeoutMs?: number) => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: string[] = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (d) => {
      messages.push(d.toString());
      for (const w of waiters.splice(0)) w();
    });
    const next = async (pred: (m: string) => boolean, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(pred);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    };
    ws.once('open', () => resolve({ ws, messages, next }));
    ws.once('error', reject);
  });
}

const bp = (value: number) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value } });

describe('websocket subscriptions', () => {
  it('bind → bound, a ping per event, nothing lost while disconnected', async () => {
    const capability = (await server.fhir('metadata')).body;
    const wsUrl = capability.rest[0].extension.find((e: any) => e.url === 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket').valueUri as string;
    expect(wsUrl).toMatch(/^ws:\/\/.*\/ws$/);
    const created = await server.fhir('Subscription', { method: 'POST', body: { resourceType: 'Subscription', status: 'requested', reason: 'ws', criteria: 'Observation?code=http://loinc.org|8480-6', channel: { type: 'websocket' } } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    for (let i = 0; i < 100 && (await server.fhir(`Subscription/${id}`)).body.status !== 'active'; i++) await new Promise((r) => setTimeout(r, 50));

    const first = await client(wsUrl);
    first.ws.send('bind nonexistent');
    expect(await first.next((m) => m.startsWith('error nonexistent'))).toMatch(/not an active subscription/);
    first.ws.send(`bind ${id}`);
    await first.next((m) => m === `bound ${id}`);
    await server.fhir('Observation', { method: 'POST', body: bp(150) });
    await first.next((m) => m === `ping ${id}`);
    first.ws.close();
    await new Promise((r) => setTimeout(r, 200));

    // While nobody is bound, two more events are numbered and kept.
    await server.fhir('Observation', { method: 'POST', body: bp(151) });
    await server.fhir('Observation', { method: 'POST', body: bp(152) });
    await new Promise((r) => setTimeout(r, 500));
    const pending = await server.pool.query(`SELECT count(*)::int AS n FROM subscription_notification WHERE subscription_id = $1 AND status = 'pending'`, [id]);
    expect(pending.rows[0].n).toBe(2);

    const second = await client(wsUrl);
    second.ws.send(`bind ${id}`);
    await second.next((m) => m === `bound ${id}`);
    const deadline = Date.now() + 10_000;
    while (second.messages.filter((m) => m === `ping ${id}`).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(second.messages.filter((m) => m === `ping ${id}`)).toHaveLength(2);
    const delivered = await server.pool.query(`SELECT event_number::int AS n, status FROM subscription_notification WHERE subscription_id = $1 ORDER BY event_number`, [id]);
    expect(delivered.rows).toEqual([1, 2, 3].map((n) => ({ n, status: 'delivered' })));
    second.ws.close();
  });
});
