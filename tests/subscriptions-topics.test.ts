// Topic-based subscriptions (R5 Backport IG for R4; issue 5), end to end with real HTTP receivers
// and real websocket clients: topics published as Basic and advertised in the CapabilityStatement;
// rejection of what cannot be served; the handshake (active after it, error at once when it
// fails); notification Bundles exactly as the IG shapes them for each payload content; state-change
// and status-change triggers; deletes; filters; heartbeats; backport-max-count batching;
// $status, $events (replay of a range) and $get-ws-binding-token with bind-with-token.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useTestServer } from './helpers/server.ts';
import { until } from './helpers/wait.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'on', SUBSCRIPTION_POLL_MS: '50', SUBSCRIPTION_DELIVERY_TIMEOUT_MS: '1500' });

const TOPIC = 'https://carebridge.dev/fhir/SubscriptionTopic';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

interface Received {
  body: any;
  raw: string;
  headers: http.IncomingHttpHeaders;
  at: number;
}

/** A real HTTP endpoint recording the notification Bundles POSTed to it; `respond` picks the status. */
async function receiver(respond: (n: number, body: any) => number = () => 200) {
  const received: Received[] = [];
  const srv = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      received.push({ body, raw, headers: req.headers, at: Date.now() });
      res.writeHead(respond(received.length, body)).end();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  const ofType = (type: string) => received.filter((r) => statusOf(r.body).type === type);
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/notify`, received, ofType };
}
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c().catch(() => undefined);
});


/** The status Parameters of a notification Bundle as name → value(s). */
function statusOf(bundle: any): { type: string; status: string; topic: string; subscription: string; count: string; events: Array<Record<string, any>>; error?: string } {
  const params = bundle.entry[0].resource.parameter as any[];
  const value = (name: string) => params.find((p) => p.name === name);
  return {
    type: value('type')?.valueCode,
    status: value('status')?.valueCode,
    topic: value('topic')?.valueCanonical,
    subscription: value('subscription')?.valueReference.reference,
    count: value('events-since-subscription-start')?.valueString,
    error: value('error')?.valueCodeableConcept?.text,
    events: params
      .filter((p) => p.name === 'notification-event')
      .map((p) => Object.fromEntries(p.part.map((x: any) => [x.name, x.valueString ?? x.valueInstant ?? x.valueReference?.reference]))),
  };
}

interface TopicOptions {
  filters?: string[];
  content?: string;
  heartbeat?: number;
  maxCount?: number;
  channel?: 'rest-hook' | 'websocket';
  secret?: string;
}

function topicSubscription(topic: string, endpoint: string | undefined, o: TopicOptions = {}) {
  return {
    resourceType: 'Subscription',
    meta: { profile: [`${BACKPORT}/backport-subscription`] },
    status: 'requested',
    reason: 'test',
    criteria: topic.startsWith('http') ? topic : `${TOPIC}/${topic}`,
    ...(o.filters ? { _criteria: { extension: o.filters.map((f) => ({ url: `${BACKPORT}/backport-filter-criteria`, valueString: f })) } } : {}),
    ...(o.secret ? { extension: [{ url: 'https://carebridge.dev/fhir/StructureDefinition/subscription-secret', valueString: o.secret }] } : {}),
    channel: {
      extension: [
        ...(o.heartbeat !== undefined ? [{ url: `${BACKPORT}/backport-heartbeat-period`, valueUnsignedInt: o.heartbeat }] : []),
        ...(o.maxCount ? [{ url: `${BACKPORT}/backport-max-count`, valuePositiveInt: o.maxCount }] : []),
      ],
      type: o.channel ?? 'rest-hook',
      ...(endpoint ? { endpoint } : {}),
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: o.content ?? 'id-only' }] },
    },
  };
}

async function subscribe(body: unknown): Promise<string> {
  const res = await server.fhir('Subscription', { method: 'POST', body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const statusNow = async (id: string) => (await server.fhir(`Subscription/${id}`)).body;
const activeSoon = (id: string) => until(`Subscription/${id} active`, async () => ((await statusNow(id)).status === 'active' ? true : undefined));

async function patient(name: string): Promise<string> {
  return (await server.fhir('Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ text: name }] } })).body.id;
}

const encounter = (patientId: string, status: string) => ({
  resourceType: 'Encounter',
  status,
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
  subject: { reference: `Patient/${patientId}` },
});

describe('topic-based subscriptions (R5 Backport IG)', () => {
  it('publishes its topics as Basic and in the CapabilityStatement, with the operations', async () => {
    const capability = (await server.fhir('metadata')).body;
    const subscription = capability.rest[0].resource.find((r: any) => r.type === 'Subscription');
    const topics = subscription.extension.filter((e: any) => e.url === `${BACKPORT}/capabilitystatement-subscriptiontopic-canonical`).map((e: any) => e.valueCanonical);
    expect(topics).toEqual(expect.arrayContaining(['encounter-discharge', 'patient', 'observation-create', 'medication-request', 'task', 'task-status-change', 'risk-assessment-create'].map((t) => `${TOPIC}/${t}`)));
    expect(subscription.operation.map((o: any) => o.name)).toEqual(expect.arrayContaining(['status', 'events', 'get-ws-binding-token']));
    const basics = (await server.fhir('Basic?code=http://hl7.org/fhir/fhir-types|SubscriptionTopic&_count=50')).body.entry.map((e: any) => e.resource);
    expect(basics).toHaveLength(topics.length);
    const discharge = basics.find((b: any) => b.id === 'topic-encounter-discharge');
    const ext = (url: string) => discharge.extension.filter((e: any) => e.url === `http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.${url}`);
    expect(ext('url')[0].valueUri).toBe(`${TOPIC}/encounter-discharge`);
    const trigger = ext('resourceTrigger')[0].extension;
    expect(trigger.filter((e: any) => e.url === 'supportedInteraction').map((e: any) => e.valueCode)).toEqual(['create', 'update']);
    expect(trigger.find((e: any) => e.url === 'queryCriteria').extension).toEqual(
      expect.arrayContaining([{ url: 'previous', valueString: 'status:not=finished' }, { url: 'current', valueString: 'status=finished' }, { url: 'requireBoth', valueBoolean: true }]),
    );
    expect(ext('canFilterBy').map((e: any) => e.extension.find((x: any) => x.url === 'filterParameter').valueString)).toEqual(expect.arrayContaining(['patient', 'class']));
    const task = basics.find((b: any) => b.id === 'topic-task');
    const taskTrigger = task.extension.find((e: any) => e.url.endsWith('.resourceTrigger')).extension;
    expect(taskTrigger.filter((e: any) => e.url === 'supportedInteraction').map((e: any) => e.valueCode)).toEqual(['create', 'update', 'delete']);
  });

  it('refuses, at create time, topics, filters, channels and payloads it cannot serve (422 naming the problem)', async () => {
    const hook = 'http://127.0.0.1:9/notify';
    const cases: Array<[unknown, RegExp]> = [
      [topicSubscription('http://example.org/SubscriptionTopic/admission', hook), /topic http:\/\/example.org\/SubscriptionTopic\/admission is not served here/],
      [topicSubscription('observation-create', hook, { filters: ['Observation?value-quantity=5'] }), /cannot be filtered by "value-quantity"; it can by: patient, subject, code/],
      [topicSubscription('observation-create', hook, { filters: ['Encounter?patient=Patient/1'] }), /filter "Encounter\?patient=Patient\/1" is on Encounter, but topic .* is about Observation/],
      [topicSubscription('observation-create', hook, { filters: ['code:text=abc'] }), /filter modifier ":text" is not supported/],
      [topicSubscription('observation-create', hook, { filters: ['patient=Patient/1&date=notadate'] }), /cannot be filtered by "date"/],
      [topicSubscription('observation-create', hook, { content: 'everything' }), /payload content "everything" is not supported; use empty, id-only or full-resource/],
      [topicSubscription('observation-create', hook, { heartbeat: 0 }), /backport-heartbeat-period/],
      [topicSubscription('observation-create', hook, { maxCount: 1000 }), /backport-max-count must be a whole number from 1 to 100/],
      [{ ...topicSubscription('observation-create', hook), channel: { type: 'rest-hook', endpoint: hook, _type: { extension: [{ url: `${BACKPORT}/backport-channel-type`, valueCoding: { system: 'http://example.org', code: 'email' } }] } } }, /channel type "email" \(backport-channel-type\) is not supported/],
      [{ ...topicSubscription('observation-create', hook), channel: { type: 'message', endpoint: hook } }, /channel type "message" is not supported; use rest-hook or websocket/],
    ];
    for (const [body, reason] of cases) {
      const res = await server.fhir('Subscription', { method: 'POST', body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.issue[0].details.text).toMatch(reason);
    }
  });

  it('handshake, then discharge events only (the change to finished), filtered by patient, full-resource with the patient as context', async () => {
    const hook = await receiver();
    const mine = await patient('张三');
    const other = await patient('李四');
    const id = await subscribe(topicSubscription('encounter-discharge', hook.url, { filters: [`Encounter?patient=Patient/${mine}`], content: 'full-resource', secret: 's3cret' }));
    // The handshake comes before activation; the subscription is active after it.
    const handshake = await until('the handshake', () => hook.ofType('handshake')[0]);
    expect(statusOf(handshake.body)).toMatchObject({ type: 'handshake', status: 'requested', topic: `${TOPIC}/encounter-discharge`, count: '0', events: [] });
    expect(handshake.body).toMatchObject({ resourceType: 'Bundle', type: 'history' });
    expect(handshake.body.entry[0].request).toEqual({ method: 'GET', url: `${server.fhirBaseUrl}/Subscription/${id}/$status` });
    await activeSoon(id);

    const admitted = (await server.fhir('Encounter', { method: 'POST', body: encounter(mine, 'in-progress') })).body;
    await server.fhir('Encounter', { method: 'POST', body: encounter(other, 'finished') }); // another patient
    const finished = (await server.fhir(`Encounter/${admitted.id}`, { method: 'PUT', body: { ...admitted, meta: undefined, status: 'finished' } })).body;
    // Still finished, another change: not a discharge again.
    await server.fhir(`Encounter/${admitted.id}`, { method: 'PUT', body: { ...finished, meta: undefined, period: { end: '2026-11-20T10:00:00+08:00' } } });
    const created = (await server.fhir('Encounter', { method: 'POST', body: encounter(mine, 'finished') })).body; // created finished: a discharge

    await until('two notifications', () => (hook.ofType('event-notification').length >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300)); // nothing more comes
    const notes = hook.ofType('event-notification');
    expect(notes).toHaveLength(2);
    const [first, second] = notes.map((n) => n.body);
    // The count is the total so far: 2 when the second discharge was numbered before the first went out.
    expect(statusOf(first)).toMatchObject({ type: 'event-notification', status: 'active', count: expect.stringMatching(/^[12]$/), subscription: `${server.fhirBaseUrl}/Subscription/${id}` });
    expect(statusOf(second).count).toBe('2');
    expect(statusOf(first).events).toEqual([
      { 'event-number': '1', timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), focus: `${server.fhirBaseUrl}/Encounter/${admitted.id}`, 'additional-context': `${server.fhirBaseUrl}/Patient/${mine}` },
    ]);
    // The version that was the event (2: the change to finished), then the patient.
    expect(first.entry[1]).toMatchObject({ fullUrl: `${server.fhirBaseUrl}/Encounter/${admitted.id}`, resource: { id: admitted.id, status: 'finished', meta: { versionId: '2' } }, request: { method: 'PUT', url: `Encounter/${admitted.id}` }, response: { status: '200' } });
    expect(first.entry[2]).toMatchObject({ fullUrl: `${server.fhirBaseUrl}/Patient/${mine}`, resource: { resourceType: 'Patient', id: mine }, request: { method: 'GET' } });
    expect(statusOf(second).events[0]).toMatchObject({ 'event-number': '2', focus: `${server.fhirBaseUrl}/Encounter/${created.id}` });
    expect(second.entry[1].request).toEqual({ method: 'POST', url: 'Encounter' });
    // Signed like classic rest-hooks: HMAC-SHA256 of the exact body.
    expect(notes[0]!.headers['x-signature-256']).toBe(`sha256=${createHmac('sha256', 's3cret').update(notes[0]!.raw).digest('hex')}`);
    expect(notes[0]!.headers['content-type']).toMatch(/^application\/fhir\+json/);
  });

  it('a failed handshake puts the subscription in error at once; requested again retries it', async () => {
    let up = false;
    const hook = await receiver(() => (up ? 200 : 503));
    const id = await subscribe(topicSubscription('patient', hook.url));
    const failed = await until('error', async () => {
      const s = await statusNow(id);
      return s.status === 'error' ? s : undefined;
    });
    expect(failed.error).toMatch(/the handshake failed: POST .* HTTP 503/);
    up = true;
    expect((await server.fhir(`Subscription/${id}`, { method: 'PUT', body: { ...failed, meta: undefined, error: undefined, status: 'requested' } })).status).toBe(200);
    await activeSoon(id);
    expect(hook.ofType('handshake')).toHaveLength(2);
  });

  it('Task: create, update and delete are events (id-only, DELETE entry); the status-change topic fires only when status changes', async () => {
    const hook = await receiver();
    const statusHook = await receiver();
    const who = await patient('王五');
    const all = await subscribe(topicSubscription('task', hook.url, { filters: [`patient=Patient/${who}`] }));
    const changes = await subscribe(topicSubscription('task-status-change', statusHook.url, { filters: [`Task?patient=Patient/${who}`], content: 'empty' }));
    await activeSoon(all);
    await activeSoon(changes);
    const task = (await server.fhir('Task', { method: 'POST', body: { resourceType: 'Task', status: 'requested', intent: 'order', for: { reference: `Patient/${who}` } } })).body;
    const noted = (await server.fhir(`Task/${task.id}`, { method: 'PUT', body: { ...task, meta: undefined, description: 'call the patient' } })).body;
    await server.fhir(`Task/${task.id}`, { method: 'PUT', body: { ...noted, meta: undefined, status: 'completed' } });
    expect((await server.fhir(`Task/${task.id}`, { method: 'DELETE' })).status).toBeLessThan(300);
    await until('four task events', () => (hook.ofType('event-notification').length >= 4 ? true : undefined));
    const requests = hook.ofType('event-notification').map((n) => n.body.entry[1].request);
    expect(requests).toEqual([
      { method: 'POST', url: 'Task' },
      { method: 'PUT', url: `Task/${task.id}` },
      { method: 'PUT', url: `Task/${task.id}` },
      { method: 'DELETE', url: `Task/${task.id}` },
    ]);
    // id-only: references, no resources.
    expect(hook.ofType('event-notification').every((n) => n.body.entry.length === 2 && n.body.entry[1].resource === undefined)).toBe(true);
    await until('the status change', () => (statusHook.ofType('event-notification').length >= 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const statusNotes = statusHook.ofType('event-notification');
    expect(statusNotes).toHaveLength(1); // created (not an update) and the description edit are not status changes
    // empty: no focus, no entries beyond the status.
    expect(statusNotes[0]!.body.entry).toHaveLength(1);
    expect(statusOf(statusNotes[0]!.body).events).toEqual([{ 'event-number': '1', timestamp: expect.any(String) }]);
  });

  it('heartbeats when idle; $status; $events replays a range in the requested content', async () => {
    const hook = await receiver();
    const who = await patient('赵六');
    const id = await subscribe(topicSubscription('observation-create', hook.url, { filters: [`Observation?patient=Patient/${who}`], heartbeat: 1 }));
    await activeSoon(id);
    const observation = (value: number) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: `Patient/${who}` }, valueQuantity: { value, unit: '/min' } });
    const ids: string[] = [];
    for (const value of [61, 62, 63]) ids.push((await server.fhir('Observation', { method: 'POST', body: observation(value) })).body.id);
    await until('three events', () => (hook.ofType('event-notification').length >= 3 ? true : undefined));
    const beats = await until('two heartbeats', () => (hook.ofType('heartbeat').length >= 2 ? hook.ofType('heartbeat') : undefined), 6_000);
    expect(statusOf(beats[0]!.body)).toMatchObject({ type: 'heartbeat', status: 'active', count: '3', events: [] });
    expect(beats[1]!.at - beats[0]!.at).toBeGreaterThanOrEqual(900);

    const status = (await server.fhir(`Subscription/${id}/$status`)).body;
    expect(status).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    expect(statusOf({ entry: [status.entry[0]] })).toMatchObject({ type: 'query-status', status: 'active', count: '3', topic: `${TOPIC}/observation-create` });
    const typeLevel = (await server.fhir(`Subscription/$status?id=${id},unknown-id`)).body;
    expect(typeLevel.total).toBe(1);
    expect((await server.fhir('Subscription/unknown-id/$status')).status).toBe(404);

    const replay = (await server.fhir(`Subscription/${id}/$events?eventsSinceNumber=2&eventsUntilNumber=3&content=full-resource`)).body;
    expect(replay.type).toBe('history');
    expect(statusOf(replay)).toMatchObject({ type: 'query-event', count: '3' });
    expect(statusOf(replay).events.map((e) => e['event-number'])).toEqual(['2', '3']);
    expect(replay.entry.filter((e: any) => e.resource?.resourceType === 'Observation').map((e: any) => e.resource.valueQuantity.value)).toEqual([62, 63]);
    const posted = (await server.fhir(`Subscription/${id}/$events`, { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'eventsSinceNumber', valueString: '1' }] } })).body;
    expect(statusOf(posted).events.map((e) => e['event-number'])).toEqual(['1', '2', '3']);
    for (const [query, problem] of [
      ['eventsSinceNumber=abc', /eventsSinceNumber must be an event number/],
      ['eventsSinceNumber=3&eventsUntilNumber=1', /eventsUntilNumber \(1\) is before eventsSinceNumber \(3\)/],
      ['content=everything', /content must be empty, id-only or full-resource/],
    ] as const) {
      const res = await server.fhir(`Subscription/${id}/$events?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.issue[0].details.text).toMatch(problem);
    }
  });

  it('backport-max-count: events that waited for a down endpoint come in order, several to a Bundle', async () => {
    let up = true;
    const hook = await receiver((_, body) => (statusOf(body).type === 'event-notification' && !up ? 503 : 200));
    const who = await patient('钱七');
    const id = await subscribe(topicSubscription('observation-create', hook.url, { filters: [`patient=Patient/${who}`], maxCount: 10 }));
    await activeSoon(id);
    up = false;
    for (let i = 0; i < 6; i++) {
      await server.fhir('Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${who}` }, valueInteger: i } });
    }
    await until('a failed attempt', () => (hook.ofType('event-notification').length >= 1 ? true : undefined));
    up = true;
    const delivered = await until('all six', () => {
      const ok = hook.received.filter((r, k) => statusOf(r.body).type === 'event-notification' && k >= 0).slice(-1)[0];
      const numbers = ok ? statusOf(ok.body).events.map((e) => e['event-number']) : [];
      return numbers.includes('6') ? ok : undefined;
    }, 15_000);
    const numbers = statusOf(delivered.body).events.map((e) => Number(e['event-number']));
    // Several events in one Bundle, in order, ending with the sixth.
    expect(numbers.length).toBeGreaterThan(1);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers.at(-1)).toBe(6);
  });

  it('websocket: $get-ws-binding-token, bind-with-token → handshake, then notification Bundles; reconnect loses nothing', async () => {
    const who = await patient('孙八');
    const id = await subscribe(topicSubscription('observation-create', undefined, { channel: 'websocket', filters: [`patient=Patient/${who}`], content: 'id-only' }));
    await activeSoon(id);
    const rest = await subscribe(topicSubscription('patient', 'http://127.0.0.1:9/none'));
    // Only websocket subscriptions get tokens; bad or unknown tokens are refused with a reason.
    const refused = await server.fhir(`Subscription/${rest}/$get-ws-binding-token`);
    expect(refused.status).toBe(400);
    expect(refused.body.issue[0].details.text).toMatch(/channel type rest-hook; binding tokens are for websocket subscriptions/);

    const token = async () => {
      const res = await server.fhir(`Subscription/${id}/$get-ws-binding-token`, { method: 'POST', body: { resourceType: 'Parameters' } });
      expect(res.status).toBe(200);
      const value = (name: string) => res.body.parameter.find((p: any) => p.name === name);
      expect(new Date(value('expiration').valueDateTime).getTime()).toBeGreaterThan(Date.now());
      return { token: value('token').valueString as string, url: value('websocket-url').valueUrl as string };
    };
    const connect = async (url: string) => {
      const ws = new WebSocket(url);
      const messages: string[] = [];
      ws.on('message', (d) => messages.push(d.toString()));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return { ws, messages };
    };
    const bundles = (messages: string[]) => messages.filter((m) => m.startsWith('{')).map((m) => JSON.parse(m));
    const first = await token();
    expect(first.url).toMatch(/^ws:\/\/.*\/ws$/);
    const a = await connect(first.url);
    a.ws.send('bind-with-token not-a-real-token-0000');
    await until('the bad token refused', () => a.messages.find((m) => m.startsWith('error unknown binding token')));
    a.ws.send(`bind-with-token ${first.token}`);
    const handshake = await until('the handshake', () => bundles(a.messages).find((b) => statusOf(b).type === 'handshake'));
    expect(statusOf(handshake)).toMatchObject({ status: 'active', subscription: `${server.fhirBaseUrl}/Subscription/${id}` });
    const observe = (value: number) => server.fhir('Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { text: 'ws' }, subject: { reference: `Patient/${who}` }, valueInteger: value } });
    await observe(1);
    const note = await until('the event', () => bundles(a.messages).find((b) => statusOf(b).type === 'event-notification'));
    expect(statusOf(note).events[0]!['event-number']).toBe('1');
    a.ws.close();
    await new Promise((r) => setTimeout(r, 200));
    await observe(2);
    await observe(3);
    // Reconnect (the token is good until it expires): the handshake, then 2 and 3 in order.
    const b = await connect(first.url);
    b.ws.send(`bind-with-token ${first.token}`);
    await until('events 2 and 3', () => (bundles(b.messages).filter((x) => statusOf(x).type === 'event-notification').length >= 2 ? true : undefined));
    const kinds = bundles(b.messages).map((x) => [statusOf(x).type, statusOf(x).events.map((e) => e['event-number']).join()]);
    expect(kinds.slice(0, 3)).toEqual([['handshake', ''], ['event-notification', '2'], ['event-notification', '3']]);
    // $events fills in whatever a client missed.
    const replay = (await server.fhir(`Subscription/${id}/$events?eventsSinceNumber=1`)).body;
    expect(statusOf(replay).events.map((e) => e['event-number'])).toEqual(['1', '2', '3']);
    b.ws.close();
  });
});
