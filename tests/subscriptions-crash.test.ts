// At-least-once delivery across a crash (issue 5, "Done when": kill -9 the server mid-delivery;
// every event is delivered after restart, duplicates only as the same event). The server runs as
// a child process on this file's database; a slow real HTTP receiver keeps deliveries in flight;
// the server is killed with SIGKILL after part of the events arrived, and started again. Then every
// event of a successful write arrives, first occurrences in write order, and a repeat is only ever
// the event just delivered again (its attempt was cut off by the kill before it was recorded).
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer } from './helpers/child-server.ts';
import type { ChildServer } from './helpers/child-server.ts';
import { createTestDatabase } from './helpers/database.ts';

let databaseUrl: string;
let server: ChildServer;
const ENV = { SUBSCRIPTION_POLL_MS: '50', SUBSCRIPTION_DELIVERY_TIMEOUT_MS: '2000' };

const received: string[] = [];
let hook: http.Server;

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  hook = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push((req.url ?? '').split('/').pop() ?? '');
      setTimeout(() => res.writeHead(200).end(), 15); // a slow receiver: deliveries stay in flight
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  server = await startChildServer(databaseUrl, ENV);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await new Promise<void>((resolve) => hook.close(() => resolve()));
});

const fhir = (p: string, init: { method?: string; body?: unknown } = {}) =>
  fetch(`http://127.0.0.1:${server.port}/fhir/${p}`, { method: init.method ?? 'GET', headers: { 'content-type': 'application/fhir+json' }, body: init.body === undefined ? undefined : JSON.stringify(init.body) });

describe('subscription delivery across kill -9', () => {
  it('delivers every event after the restart, in order, duplicates only as a re-sent event', async () => {
    const endpoint = `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/hook`;
    const sub = (await (await fhir('Subscription', { method: 'POST', body: { resourceType: 'Subscription', status: 'requested', reason: 'crash', criteria: 'Observation?code=http://loinc.org|8480-6', channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' } } })).json()) as { id: string };
    for (let i = 0; i < 200 && ((await (await fhir(`Subscription/${sub.id}`)).json()) as { status: string }).status !== 'active'; i++) await new Promise((r) => setTimeout(r, 50));
    const written: string[] = [];
    for (let i = 0; i < 60; i++) {
      const res = await fhir('Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 100 + i } } });
      written.push(((await res.json()) as { id: string }).id);
    }
    while (received.length < 15) await new Promise((r) => setTimeout(r, 10));
    await server.kill();
    const beforeRestart = received.length;
    expect(beforeRestart).toBeLessThan(written.length); // the kill really interrupted delivery
    server = await startChildServer(databaseUrl, ENV, server.port);
    const deadline = Date.now() + 30_000;
    while (new Set(received).size < written.length) {
      if (Date.now() > deadline) throw new Error(`only ${new Set(received).size} of ${written.length} events delivered`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const firsts = received.filter((id, i) => received.indexOf(id) === i);
    expect(firsts).toEqual(written);
    received.forEach((id, i) => {
      if (received.indexOf(id) !== i) expect(received[i - 1], `a repeat of ${id} follows the same event`).toBe(id);
    });
  });
});
