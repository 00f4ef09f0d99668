// PgFhirStore.lockConditions resolves a transaction's conditions in one round trip (the database
// function cb_resolve_conditions): identifier conditions that match are not locked; those that
// match nothing are locked and looked up again in a snapshot taken after the lock — so a
// transaction that waited for another one sees the resource that one created, and does not
// create a second. A condition resolved for a write (conditional update or delete) also locks the
// rows it matched, so the write that follows needs no lock of its own — and still sees, and
// follows, a version committed while it waited.
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

  /** Counts the statements sent on `client` from now on. */
  function countStatements(client: { query: (...args: never[]) => unknown }): () => number {
    let n = 0;
    const original = client.query.bind(client);
    client.query = ((...args: never[]) => {
      n++;
      return original(...args);
    }) as typeof client.query;
    return () => n;
  }

  async function patientWith(value: string, family: string): Promise<string> {
    const created = await new PgFhirStore(server.pool).create({ resourceType: 'Patient', identifier: [{ system: 'urn:cond', value }], name: [{ family }] } as never);
    return created.version.id;
  }

  it('a condition resolved for a write locks its match: the update that follows sends only its write', async () => {
    const id = await patientWith('w-1', 'One');
    const first = await server.pool.connect();
    const second = await server.pool.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      const statements = countStatements(first);
      const a = storeInTransaction(first);
      await a.lockConditions([{ ...condition('w-1'), forWrite: true }]);
      const found = await a.findConditional('Patient', condition('w-1').params, 'test');
      expect(found?.id).toBe(id);
      const [outcome] = await a.applyWrites([{ kind: 'update', resource: { resourceType: 'Patient', id, identifier: [{ system: 'urn:cond', value: 'w-1' }], name: [{ family: 'Changed' }] } as never, label: 'a' }]);
      expect(outcome).toMatchObject({ outcome: 'updated', version: { versionId: 2 } });
      // The lookup with its row lock, then the write: no separate lock of the row.
      expect(statements()).toBe(2);
      // The row is locked until the first transaction ends: another writer waits.
      let settled = false;
      const waiting = second.query(`UPDATE fhir_resource SET last_updated = now() WHERE resource_type = 'Patient' AND id = $1`, [id]).then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false);
      await first.query('COMMIT');
      await waiting;
      await second.query('ROLLBACK');
    } finally {
      // Destroyed, not returned: a failed test must not leave its transaction (and locks) in the pool.
      first.release(true);
      second.release(true);
    }
  });

  it('rows named by id are locked with the conditions; one that does not exist is created without a lock', async () => {
    const id = await patientWith('n-1', 'Named');
    const first = await server.pool.connect();
    const second = await server.pool.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      const statements = countStatements(first);
      const a = storeInTransaction(first);
      await a.lockConditions([], [{ resourceType: 'Patient', id }, { resourceType: 'Patient', id: 'named-new-1' }]);
      const outcomes = await a.applyWrites([
        { kind: 'update', resource: { resourceType: 'Patient', id, name: [{ family: 'Renamed' }] } as never, label: 'a' },
        { kind: 'update', resource: { resourceType: 'Patient', id: 'named-new-1', name: [{ family: 'New' }] } as never, label: 'b' },
      ]);
      expect(outcomes.map((o) => [o.outcome, o.version.versionId])).toEqual([['updated', 2], ['created', 1]]);
      expect(statements()).toBe(2);
      let settled = false;
      const waiting = second.query(`UPDATE fhir_resource SET last_updated = now() WHERE resource_type = 'Patient' AND id = $1`, [id]).then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false);
      await first.query('COMMIT');
      await waiting;
      await second.query('ROLLBACK');
    } finally {
      first.release(true);
      second.release(true);
    }
  });

  it('a condition resolved only to read (conditional create) leaves its match unlocked', async () => {
    const id = await patientWith('r-1', 'Read');
    const first = await server.pool.connect();
    try {
      await first.query('BEGIN');
      await storeInTransaction(first).lockConditions([condition('r-1')]);
      // Not locked: an update from outside goes through at once.
      const updated = await new PgFhirStore(server.pool).update({ resourceType: 'Patient', id, identifier: [{ system: 'urn:cond', value: 'r-1' }], name: [{ family: 'Else' }] } as never);
      expect(updated.version.versionId).toBe(2);
      await first.query('COMMIT');
    } finally {
      first.release(true);
    }
  });

  it('a match updated while its row lock was awaited is returned as committed, and the write follows it', async () => {
    const id = await patientWith('w-2', 'Two');
    const other = await server.pool.connect();
    const mine = await server.pool.connect();
    try {
      await other.query('BEGIN');
      await storeInTransaction(other).applyWrites([{ kind: 'update', resource: { resourceType: 'Patient', id, identifier: [{ system: 'urn:cond', value: 'w-2' }], name: [{ family: 'Meanwhile' }] } as never, label: 'other' }]);
      await mine.query('BEGIN');
      const store = storeInTransaction(mine);
      const resolving = store.lockConditions([{ ...condition('w-2'), forWrite: true }]);
      await new Promise((r) => setTimeout(r, 200));
      await other.query('COMMIT');
      await resolving;
      const found = await store.findConditional('Patient', condition('w-2').params, 'test');
      expect(found).toMatchObject({ id, versionId: 2 });
      expect(JSON.parse(found!.content!).name[0].family).toBe('Meanwhile');
      const [outcome] = await store.applyWrites([{ kind: 'update', resource: { resourceType: 'Patient', id, identifier: [{ system: 'urn:cond', value: 'w-2' }], name: [{ family: 'Mine' }] } as never, label: 'mine' }]);
      expect(outcome!.version.versionId).toBe(3);
      await mine.query('COMMIT');
      expect((await new PgFhirStore(server.pool).read('Patient', id)).versionId).toBe(3);
    } finally {
      other.release(true);
      mine.release(true);
    }
  });

  it('a match deleted while its row lock was awaited leaves the condition to be resolved again: it finds nothing', async () => {
    const id = await patientWith('w-3', 'Three');
    const other = await server.pool.connect();
    const mine = await server.pool.connect();
    try {
      await other.query('BEGIN');
      await storeInTransaction(other).applyWrites([{ kind: 'delete', resourceType: 'Patient', id, label: 'other' }]);
      await mine.query('BEGIN');
      const store = storeInTransaction(mine);
      const resolving = store.lockConditions([{ ...condition('w-3'), forWrite: true }]);
      await new Promise((r) => setTimeout(r, 200));
      await other.query('COMMIT');
      await resolving;
      expect(await store.findConditional('Patient', condition('w-3').params, 'test')).toBeUndefined();
      // Resolved again, it holds the condition's lock (as a condition that matched nothing does):
      // no one else can create the resource it may create.
      await other.query('BEGIN');
      let settled = false;
      const waiting = storeInTransaction(other).lockConditions([condition('w-3')]).then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false);
      await mine.query('COMMIT');
      await waiting;
      await other.query('COMMIT');
    } finally {
      other.release(true);
      mine.release(true);
    }
  });
});
