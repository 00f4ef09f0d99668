// PgFhirStore.lockConditions resolves a transaction's conditions in one round trip (the database
// function cb_resolve_conditions): identifier conditions that match are not locked; those that
// match nothing are locked and looked up again in a snapshot taken after the lock — so a
// transaction that waited for another one sees the resource that one created, and does not
// create a second.
import { describe, expect, it } from 'vitest';
import { PgFhirStore, storeInTransaction } from '../src/fhir/index.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });
const condition = (value: string) => ({ resourceType: 'Patient', params: new URLSearchParams({ identifier: `urn:cond|${value}` }) });

describe('lockConditions', () => {
  it('a condition that matched nothing is looked up again after waiting for its lock', async () => {
    const first = await server.pool.connect();
    const second = await server.pool.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      const a = storeInTransaction(first);
      await a.lockConditions([condition('new-1')]);
      expect(await a.findConditional('Patient', condition('new-1').params, 'test')).toBeUndefined();
      await a.applyWrites([{ kind: 'create', resource: { resourceType: 'Patient', id: 'cond-new-1', identifier: [{ system: 'urn:cond', value: 'new-1' }] } as never, label: 'a' }]);
      // The second transaction asks for the same condition: it waits for the first's lock.
      const b = storeInTransaction(second);
      let settled = false;
      const waiting = b.lockConditions([condition('new-1')]).then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false);
      await first.query('COMMIT');
      await waiting;
      // Looked up after the lock was granted: it sees what the first transaction created.
      expect((await b.findConditional('Patient', condition('new-1').params, 'test'))?.id).toBe('cond-new-1');
      await second.query('COMMIT');
    } finally {
      first.release();
      second.release();
    }
  });

  it('conditions that match are answered without a lock; others of any shape are locked', async () => {
    const store = new PgFhirStore(server.pool);
    await store.create({ resourceType: 'Patient', identifier: [{ system: 'urn:cond', value: 'old-1' }] } as never);
    const first = await server.pool.connect();
    const second = await server.pool.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      const nameCondition = { resourceType: 'Patient', params: new URLSearchParams({ name: 'nobody-cond' }) };
      await storeInTransaction(first).lockConditions([condition('old-1'), nameCondition]);
      // The matched identifier holds no lock: another transaction resolves it at once.
      const b = storeInTransaction(second);
      await b.lockConditions([condition('old-1')]);
      expect(await b.findConditional('Patient', condition('old-1').params, 'test')).toMatchObject({ versionId: 1 });
      // The other condition is locked: the second transaction waits for it.
      let settled = false;
      const waiting = b.lockConditions([nameCondition]).then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false);
      await first.query('COMMIT');
      await waiting;
      await second.query('COMMIT');
    } finally {
      first.release();
      second.release();
    }
  });
});
