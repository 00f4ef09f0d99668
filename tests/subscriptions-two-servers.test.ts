// Two server processes on one database (issue 5: "two server processes on one database deliver
// each event attempt once"): both run the dispatcher and the delivery worker; writes go through
// both; every event is delivered exactly once (no failures, so no retries) and in order.
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer } from './helpers/child-server.ts';
import type { ChildServer } from './helpers/child-server.ts';
import { createTestDatabase } from './helpers/database.ts';

const servers: ChildServer[] = [];
const received: string[] = [];
let hook: http.Server;

beforeAll(async () => {
  const databaseUrl = await createTestDatabase();
  hook = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push((req.url ?? '').split('/').pop() ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  servers.push(await startChildServer(databaseUrl, { SUBSCRIPTION_POLL_MS: '20' }));
  servers.push(await startChildServer(databaseUrl, { SUBSCRIPTION_POLL_MS: '20' }));
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await new Promise<void>((resolve) => hook.close(() => resolve()));
});

const fhir = (server: ChildServer, p: string, body?: unknown) =>
  fetch(`http://127.0.0.1:${server.port}/fhir/${p}`, { method: body ? 'POST' : 'GET', headers: { 'content-type': 'application/fhir+json' }, body: body ? JSON.stringify(body) : undefined }).then((r) => r.json() as Promise<{ id: string; status?: string }>);

describe('two servers, one database', () => {
  it('deliver each event once, in order', async () => {
    const endpoint = `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/hook`;
    const sub = await fhir(servers[0]!, 'Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'two', criteria: 'Observation?code=http://loinc.org|8462-4', channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' } });
    for (let i = 0; i < 200 && (await fhir(servers[1]!, `Subscription/${sub.id}`)).status !== 'active'; i++) await new Promise((r) => setTimeout(r, 50));
    const written: string[] = [];
    for (let i = 0; i < 40; i++) {
      const created = await fhir(servers[i % 2]!, 'Observation', { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 60 + i } });
      written.push(created.id);
    }
    const deadline = Date.now() + 20_000;
    while (received.length < written.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
    expect(received).toEqual(written);
  });
});
