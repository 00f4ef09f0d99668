// Internal subscribers (issue 5: "topic or criteria + TypeScript handler, run in the same
// at-least-once machinery, idempotent by event id" — what the care-plan engine builds on): a
// handler gets every matching write, in order, with gap-free event numbers and the resource as
// written; while it throws it is retried with backoff, and later events wait for it. A topic's
// canonical URL works as the criteria too (state-change topics, deletes without a resource).
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { PgFhirStore, storeInTransaction } from '../src/fhir/index.ts';
import { SubscriptionEngine } from '../src/subscriptions/engine/engine.ts';
import type { InternalEvent } from '../src/subscriptions/subscription-model.ts';
import { useTestServer } from './helpers/server.ts';

// The server's own engine is off: this file's engine, with its internal subscriber, is the only one.
const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });
let engine: SubscriptionEngine | undefined;
let parallel: SubscriptionEngine | undefined;
afterAll(async () => {
  await engine?.stop();
  await parallel?.stop();
});

describe('internal subscribers', () => {
  it('receive matching writes in order, at least once, retried while the handler fails', async () => {
    const seen: InternalEvent[] = [];
    let failuresLeft = 2;
    engine = new SubscriptionEngine({ pool: server.pool, store: new PgFhirStore(server.pool), logger: pino({ level: 'silent' }), pollMs: 20, timeoutMs: 1000, maxInFlight: 4, retryHorizonSeconds: 60, retry: { baseMs: 50, maxMs: 200 }, baseUrl: () => server.fhirBaseUrl });
    expect(() => engine!.subscribe('bad name!', 'Encounter', async () => undefined)).toThrow(/names are/);
    expect(() => engine!.subscribe('bad-criteria', 'Encounter?colour=red', async () => undefined)).toThrow(/criteria/);
    engine.subscribe('discharges', 'Encounter?status=finished', async (event) => {
      if ((event.resource as { id: string }).id === 'enc-2' && failuresLeft-- > 0) throw new Error('not yet');
      seen.push(event);
    });
    // A topic works as well as a search: here only the Task updates that change its status.
    const statusChanges: InternalEvent[] = [];
    engine.subscribe('task-status', 'https://carebridge.dev/fhir/SubscriptionTopic/task-status-change', async (event) => void statusChanges.push(event));
    const taskEvents: InternalEvent[] = [];
    engine.subscribe('tasks', 'https://carebridge.dev/fhir/SubscriptionTopic/task', async (event) => void taskEvents.push(event));
    engine.start();
    const encounter = (id: string, status: string) => ({ resourceType: 'Encounter', id, status, class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' } });
    await new Promise((r) => setTimeout(r, 100)); // the engine is running: only writes after this count
    for (const [id, status] of [['enc-1', 'finished'], ['enc-2', 'finished'], ['enc-3', 'in-progress'], ['enc-4', 'finished']]) {
      expect((await server.fhir(`Encounter/${id}`, { method: 'PUT', body: encounter(id!, status!) })).status).toBe(201);
    }
    const deadline = Date.now() + 10_000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((e) => [e.eventNumber, (e.resource as { id: string }).id, e.interaction])).toEqual([
      [1, 'enc-1', 'create'],
      [2, 'enc-2', 'create'],
      [3, 'enc-4', 'create'],
    ]);
    expect(failuresLeft).toBe(-1); // enc-2 failed twice, then succeeded; enc-4 waited for it
    expect(new Set(seen.map((e) => e.eventId)).size).toBe(3);
    expect(seen[0]).toMatchObject({ subscriber: 'internal-discharges', resourceType: 'Encounter', versionId: 1 });

    const task = { resourceType: 'Task', id: 'task-1', status: 'requested', intent: 'order' };
    await server.fhir('Task/task-1', { method: 'PUT', body: task });
    await server.fhir('Task/task-1', { method: 'PUT', body: { ...task, description: 'no status change' } });
    await server.fhir('Task/task-1', { method: 'PUT', body: { ...task, status: 'completed' } });
    await server.fhir('Task/task-1', { method: 'DELETE' });
    while (taskEvents.length < 4 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 20));
    expect(taskEvents.map((e) => [e.eventNumber, e.interaction, (e.resource as { status?: string } | undefined)?.status])).toEqual([
      [1, 'create', 'requested'],
      [2, 'update', 'requested'],
      [3, 'update', 'completed'],
      [4, 'delete', undefined],
    ]);
    expect(statusChanges.map((e) => [e.eventNumber, e.versionId])).toEqual([[1, 3]]);
    // Stopped here: every engine on a database must register the same internal subscribers (the
    // outbox cursor is shared), so this one must not run beside the next test's.
    await engine.stop();
  });

  it('with concurrency: events of different order keys run side by side, each key in order, a failure holds only its key', async () => {
    const seen: Array<{ patient: string; n: number }> = [];
    let running = 0;
    let mostAtOnce = 0;
    let failuresLeft = 1;
    parallel = new SubscriptionEngine({ pool: server.pool, store: new PgFhirStore(server.pool), logger: pino({ level: 'silent' }), pollMs: 20, timeoutMs: 1000, maxInFlight: 4, retryHorizonSeconds: 60, retry: { baseMs: 300, maxMs: 300 }, baseUrl: () => server.fhirBaseUrl });
    expect(() => parallel!.subscribe('too-many', 'Observation', async () => undefined, { concurrency: 100 })).toThrow(/concurrency/);
    parallel.subscribe(
      'by-patient',
      'Observation?category=parallel-test',
      async (event) => {
        const observation = event.resource as { subject: { reference: string }; valueInteger: number };
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        try {
          await new Promise((r) => setTimeout(r, 30));
          // Patient/p-1's second reading fails once: its third must wait for it.
          if (observation.subject.reference === 'Patient/p-1' && observation.valueInteger === 2 && failuresLeft-- > 0) throw new Error('not yet');
          seen.push({ patient: observation.subject.reference, n: observation.valueInteger });
        } finally {
          running--;
        }
      },
      { concurrency: 4, orderKey: (event) => (event.resource as { subject: { reference: string } }).subject.reference },
    );
    parallel.start();
    await new Promise((r) => setTimeout(r, 100));
    // Five readings for each of four patients, written one after another (event order = write order).
    for (let n = 1; n <= 5; n++) {
      for (const p of ['p-1', 'p-2', 'p-3', 'p-4']) {
        const body = { resourceType: 'Observation', status: 'final', category: [{ coding: [{ code: 'parallel-test' }] }], code: { text: 'reading' }, subject: { reference: `Patient/${p}` }, valueInteger: n };
        expect((await server.fhir('Observation', { method: 'POST', body })).status).toBe(201);
      }
    }
    const deadline = Date.now() + 15_000;
    while (seen.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(20);
    for (const p of ['p-1', 'p-2', 'p-3', 'p-4']) expect(seen.filter((s) => s.patient === `Patient/${p}`).map((s) => s.n), p).toEqual([1, 2, 3, 4, 5]);
    expect(mostAtOnce).toBeGreaterThan(1);
    expect(mostAtOnce).toBeLessThanOrEqual(4);
    expect(failuresLeft).toBe(-1);
    // Every event delivered once, recorded as delivered (the marks are written when the batch ends,
    // just after the last handler returns).
    const statuses = async () => (await server.pool.query(`SELECT status, count(*)::int AS n FROM subscription_notification WHERE subscription_id = 'internal-by-patient' GROUP BY status`)).rows;
    while ((await statuses()).length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await statuses()).toEqual([{ status: 'delivered', n: 20 }]);
  });

  it('with handleGroup: the events of one key in a batch come in one call, in order; a failure runs the group again', async () => {
    await parallel?.stop();
    const groups: Array<{ patient: string; values: number[] }> = [];
    let failuresLeft = 1;
    const grouped = new SubscriptionEngine({ pool: server.pool, store: new PgFhirStore(server.pool), logger: pino({ level: 'silent' }), pollMs: 20, timeoutMs: 1000, maxInFlight: 4, retryHorizonSeconds: 60, retry: { baseMs: 100, maxMs: 100 }, baseUrl: () => server.fhirBaseUrl });
    const subjectOf = (event: InternalEvent) => (event.resource as { subject: { reference: string } }).subject.reference;
    grouped.subscribe('grouped', 'Observation?category=group-test', async () => { throw new Error('handleGroup is used instead'); }, {
      concurrency: 2,
      orderKey: subjectOf,
      handleGroup: async (events) => {
        const patients = new Set(events.map(subjectOf));
        expect(patients.size).toBe(1);
        const patient = [...patients][0]!;
        if (patient === 'Patient/g-1' && failuresLeft-- > 0) throw new Error('not yet');
        groups.push({ patient, values: events.map((e) => (e.resource as { valueInteger: number }).valueInteger) });
      },
    });
    grouped.start();
    try {
      await new Promise((r) => setTimeout(r, 100));
      // Three readings for each of two patients in one transaction: one batch of six events.
      const reading = (p: string, n: number) => ({ resource: { resourceType: 'Observation', status: 'final', category: [{ coding: [{ code: 'group-test' }] }], code: { text: 'reading' }, subject: { reference: `Patient/${p}` }, valueInteger: n }, request: { method: 'POST', url: 'Observation' } });
      const entry = [1, 2, 3].flatMap((n) => [reading('g-1', n), reading('g-2', n)]);
      expect((await server.fhir('', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry } })).status).toBe(200);
      const deadline = Date.now() + 15_000;
      const handled = (p: string) => groups.filter((g) => g.patient === `Patient/${p}`).flatMap((g) => g.values);
      while ((handled('g-1').length < 3 || handled('g-2').length < 3) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Each patient's readings in one call, in order; g-1's group failed once and came back whole.
      expect(groups).toEqual(expect.arrayContaining([{ patient: 'Patient/g-1', values: [1, 2, 3] }, { patient: 'Patient/g-2', values: [1, 2, 3] }]));
      expect(groups).toHaveLength(2);
      expect(failuresLeft).toBe(-1);
      const statuses = async () => (await server.pool.query(`SELECT status, count(*)::int AS n FROM subscription_notification WHERE subscription_id = 'internal-grouped' GROUP BY status`)).rows;
      while ((await statuses()).length !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await statuses()).toEqual([{ status: 'delivered', n: 6 }]);
    } finally {
      await grouped.stop();
    }
  });

  it('waits for a transaction still open: its event, committed later, comes before those after it', async () => {
    // Subscribers are registered before start(): the previous test's engine stops, a third starts.
    await parallel?.stop();
    const order: string[] = [];
    const third = new SubscriptionEngine({ pool: server.pool, store: new PgFhirStore(server.pool), logger: pino({ level: 'silent' }), pollMs: 20, timeoutMs: 1000, maxInFlight: 4, retryHorizonSeconds: 60, retry: { baseMs: 50, maxMs: 200 }, baseUrl: () => server.fhirBaseUrl });
    third.subscribe('commit-order', 'Observation?category=commit-order', async (event) => void order.push((event.resource as { code: { text: string } }).code.text));
    third.start();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const observation = (text: string) => ({ resourceType: 'Observation', status: 'final', category: [{ coding: [{ code: 'commit-order' }] }], code: { text }, subject: { reference: 'Patient/p-9' } });
      const client = await server.pool.connect();
      try {
        await client.query('BEGIN');
        await storeInTransaction(client).create(observation('first, committed last') as never);
        // A later transaction commits while the first is still open: its event must wait.
        expect((await server.fhir('Observation', { method: 'POST', body: observation('second') })).status).toBe(201);
        await new Promise((r) => setTimeout(r, 400));
        expect(order).toEqual([]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const deadline = Date.now() + 10_000;
      while (order.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(order).toEqual(['first, committed last', 'second']);
    } finally {
      await third.stop();
    }
  });
});
