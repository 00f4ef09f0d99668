// R4 classic Subscriptions over rest-hook, end to end with real HTTP receivers (issue 5, first
// slice): status lifecycle requested → active, error with the reason (unsupported channel, retry
// horizon exhausted) and reactivation; criteria matched with search semantics; empty POST without a
// payload, PUT {endpoint}/{type}/{id} with one; channel.header sent; X-Signature-256 HMAC; gap-free
// per-subscription event numbers, delivery in order, retries after failures; a hanging endpoint
// does not delay another subscription.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestServer } from './helpers/server.ts';
import { until } from './helpers/wait.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'on', SUBSCRIPTION_POLL_MS: '50', SUBSCRIPTION_DELIVERY_TIMEOUT_MS: '1500' });

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A real HTTP endpoint that records requests; `respond` decides the status (or hangs with 0). */
async function receiver(respond: (n: number) => number = () => 200) {
  const received: Received[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const status = respond(received.length);
      if (status === 0) return; // hang
      res.writeHead(status).end();
    });
  });
  srv.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`;
  const close = () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  };
  closers.push(close);
  return { url, received, close };
}
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c().catch(() => undefined);
});


async function subscribe(body: Record<string, unknown>): Promise<string> {
  const res = await server.fhir('Subscription', { method: 'POST', body: { resourceType: 'Subscription', status: 'requested', reason: 'test', ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = res.body.id as string;
  await until(`Subscription/${id} active or error`, async () => {
    const s = (await server.fhir(`Subscription/${id}`)).body;
    return s.status !== 'requested' ? s : undefined;
  });
  return id;
}

const observation = (code: string, value: number, patient = 'Patient/p1') => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code }] },
  subject: { reference: patient },
  valueQuantity: { value, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
});

async function numbers(subscriptionId: string): Promise<Array<{ n: number; status: string }>> {
  const { rows } = await server.pool.query('SELECT event_number::int AS n, status FROM subscription_notification WHERE subscription_id = $1 ORDER BY event_number', [subscriptionId]);
  return rows;
}

describe('rest-hook subscriptions', () => {
  it('activates, matches the criteria like search, POSTs without a body with channel.header, numbers events gap-free', async () => {
    const hook = await receiver();
    const id = await subscribe({ criteria: 'Observation?code=http://loinc.org|8480-6&value-quantity=gt140', channel: { type: 'rest-hook', endpoint: hook.url, header: ['Authorization: Bearer t0k3n'] } });
    expect((await server.fhir(`Subscription/${id}`)).body.status).toBe('active');
    for (const [code, value] of [['8480-6', 150], ['8480-6', 120], ['8462-4', 150], ['8480-6', 160]] as const) {
      expect((await server.fhir('Observation', { method: 'POST', body: observation(code, value) })).status).toBe(201);
    }
    await until('two notifications', () => hook.received.length >= 2 || undefined);
    await new Promise((r) => setTimeout(r, 300)); // nothing else may arrive
    expect(hook.received).toHaveLength(2);
    for (const r of hook.received) expect(r).toMatchObject({ method: 'POST', url: '/hook', body: '', headers: expect.objectContaining({ authorization: 'Bearer t0k3n' }) });
    expect(await numbers(id)).toEqual([{ n: 1, status: 'delivered' }, { n: 2, status: 'delivered' }]);
    // The admin view of its state.
    const view: any = await (await fetch(`${server.url}/admin/subscriptions/${id}`)).json();
    expect(view).toMatchObject({ id, eventsSinceStart: '2', pending: 0, failingSince: null, lastError: null, lastDeliveredAt: expect.stringMatching(/^\d{4}-/) });
    expect(view.notifications.map((n: any) => [n.eventNumber, n.status, n.interaction])).toEqual([['2', 'delivered', 'create'], ['1', 'delivered', 'create']]);
    expect(((await (await fetch(`${server.url}/admin/subscriptions`)).json()) as any).subscriptions).toContainEqual(expect.objectContaining({ id, pending: 0 }));
    expect((await fetch(`${server.url}/admin/subscriptions/unknown`)).status).toBe(404);
    expect((await fetch(`${server.url}/admin/subscriptions/${id}?limit=0`)).status).toBe(400);
  });

  it('with a payload, PUTs the resource to {endpoint}/{type}/{id}, signed with the secret', async () => {
    const hook = await receiver();
    await subscribe({
      criteria: 'Observation?code=http://loinc.org|8867-4',
      channel: { type: 'rest-hook', endpoint: hook.url, payload: 'application/fhir+json' },
      extension: [{ url: 'https://carebridge.dev/fhir/StructureDefinition/subscription-secret', valueString: 's3cret' }],
    });
    const created = (await server.fhir('Observation', { method: 'POST', body: observation('8867-4', 72) })).body;
    const [r] = await until('the PUT', () => (hook.received.length ? hook.received : undefined));
    expect(r).toMatchObject({ method: 'PUT', url: `/hook/Observation/${created.id}` });
    expect(r!.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(JSON.parse(r!.body)).toMatchObject({ resourceType: 'Observation', id: created.id, valueQuantity: { value: 72 } });
    expect(r!.headers['x-signature-256']).toBe(`sha256=${createHmac('sha256', 's3cret').update(r!.body).digest('hex')}`);
  });

  it('retries a failing endpoint with backoff and delivers every event in order', async () => {
    const hook = await receiver((n) => (n <= 2 ? 503 : 200));
    const id = await subscribe({ criteria: 'Observation?code=http://loinc.org|2339-0', channel: { type: 'rest-hook', endpoint: hook.url, payload: 'application/fhir+json' } });
    const ids: string[] = [];
    for (const value of [5, 6, 7]) ids.push((await server.fhir('Observation', { method: 'POST', body: observation('2339-0', value) })).body.id);
    await until('all delivered', async () => ((await numbers(id)).filter((x) => x.status === 'delivered').length === 3 ? true : undefined), 15_000);
    const delivered = hook.received.filter((_, i) => i >= 2).map((r) => r.url.split('/').pop());
    expect(delivered).toEqual(ids); // in order, after two failed attempts of the first
    expect(hook.received.slice(0, 2).every((r) => r.url.endsWith(ids[0]!))).toBe(true);
    expect(hook.received[2]!.at - hook.received[1]!.at).toBeGreaterThanOrEqual(900); // backoff (≥ half of 2 s)
  });

  it('a hanging endpoint does not delay another subscription', async () => {
    const stuck = await receiver(() => 0);
    const fine = await receiver();
    await subscribe({ criteria: 'Observation?code=http://loinc.org|29463-7', channel: { type: 'rest-hook', endpoint: stuck.url } });
    await subscribe({ criteria: 'Observation?code=http://loinc.org|29463-7', channel: { type: 'rest-hook', endpoint: fine.url } });
    const t0 = Date.now();
    await server.fhir('Observation', { method: 'POST', body: observation('29463-7', 70) });
    await until('the healthy endpoint notified', () => (fine.received.length ? true : undefined));
    expect(Date.now() - t0).toBeLessThan(1_000); // not behind the 1.5 s timeout of the stuck one
    await until('the stuck endpoint reached', () => (stuck.received.length ? true : undefined));
  });

  it('goes to error when the retry horizon runs out, keeps numbering events, and resumes in order when reactivated', async () => {
    let up = false;
    const hook = await receiver(() => (up ? 200 : 500));
    const id = await subscribe({
      criteria: 'Observation?code=http://loinc.org|59408-5',
      channel: { type: 'rest-hook', endpoint: hook.url, payload: 'application/fhir+json' },
      extension: [{ url: 'https://carebridge.dev/fhir/StructureDefinition/subscription-retry-horizon', valueInteger: 2 }],
    });
    const first = (await server.fhir('Observation', { method: 'POST', body: observation('59408-5', 95) })).body.id;
    const errored = await until('status error', async () => {
      const s = (await server.fhir(`Subscription/${id}`)).body;
      return s.status === 'error' ? s : undefined;
    }, 15_000);
    expect(errored.error).toMatch(/retry horizon 2 s.*HTTP 500/);
    const second = (await server.fhir('Observation', { method: 'POST', body: observation('59408-5', 96) })).body.id;
    await until('the second event numbered while in error', async () => ((await numbers(id)).length === 2 ? true : undefined));
    up = true;
    const current = (await server.fhir(`Subscription/${id}`)).body;
    expect((await server.fhir(`Subscription/${id}`, { method: 'PUT', body: { ...current, status: 'requested', error: undefined } })).status).toBe(200);
    await until('both delivered', async () => ((await numbers(id)).every((x) => x.status === 'delivered') ? true : undefined), 15_000);
    const okUrls = hook.received.filter((r) => r.at > 0).slice(-2).map((r) => r.url.split('/').pop());
    expect(okUrls).toEqual([first, second]);
    expect((await server.fhir(`Subscription/${id}`)).body.status).toBe('active');
  });

  it('refuses, when written, what it cannot serve and statuses only the server sets (422 with the reason)', async () => {
    const post = (body: Record<string, unknown>) => server.fhir('Subscription', { method: 'POST', body: { resourceType: 'Subscription', status: 'requested', reason: 'test', criteria: 'Observation?code=http://loinc.org|8480-6', channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/x' }, ...body } });
    const cases: Array<[Record<string, unknown>, RegExp, string]> = [
      [{ channel: { type: 'email', endpoint: 'mailto:a@example.org' } }, /channel type "email" is not supported; use rest-hook or websocket/, 'Subscription'],
      [{ channel: { type: 'websocket', payload: 'application/fhir+json' } }, /websocket channel carries no payload/, 'Subscription'],
      [{ criteria: 'Observation?colour=red' }, /criteria: .*colour/, 'Subscription'],
      [{ criteria: 'http://example.org/topic' }, /topic http:\/\/example.org\/topic is not served here; topics: https:\/\/carebridge.dev/, 'Subscription'],
      [{ channel: { type: 'rest-hook', endpoint: 'ftp://x/y' } }, /must be http or https/, 'Subscription'],
      [{ channel: { type: 'rest-hook', endpoint: 'http://x/y', payload: 'application/fhir+xml' } }, /payload .* not supported/, 'Subscription'],
      [{ status: 'active' }, /status "active" is set by the server/, 'Subscription.status'],
    ];
    for (const [body, reason, expression] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.issue[0]).toMatchObject({ code: 'business-rule', expression: [expression], details: { text: expect.stringMatching(reason) } });
    }
    // A client may turn a subscription off, and back to requested; not to error.
    const id = await subscribe({ criteria: 'Observation?code=http://loinc.org|8480-6', channel: { type: 'rest-hook', endpoint: 'http://127.0.0.1:9/x' } });
    const current = (await server.fhir(`Subscription/${id}`)).body;
    expect((await server.fhir(`Subscription/${id}`, { method: 'PUT', body: { ...current, status: 'error' } })).status).toBe(422);
    expect((await server.fhir(`Subscription/${id}`, { method: 'PUT', body: { ...current, status: 'off' } })).status).toBe(200);
  });
});
