// PgFhirStore.lockConditions resolves a transaction's conditions in one round trip (the database
// function cb_resolve_conditions): identifier conditions that match are not locked; those that
// match nothing are locked and looked up again in a snapshot taken after the lock — so a
// transaction that waited for another one sees the resource that one created, and does not
// create a second. A condition resolved for a write (conditional update or delete) also locks the
// rows it matched, so the write that follows needs no lock of its own — and still sees, and
// follows, a version committed while it waited.
import { describe, expect, it } from 'vitest';
import type { PoolClient } from '../src/db/pool.ts';
import { PgFhirStore, storeInTransaction } from '../src/fhir/index.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });
const condition = (value: string) => ({ resourceType: 'Patient', params: new URLSearchParams({ identifier: `urn:cond|${value}` }) });
const forWrite = (value: string) => ({ ...condition(value), forWrite: true });

/** Runs `fn` with two connections, each in an open transaction; destroys them after, so a failed test leaves no locks in the pool. */
async function inTwoTransactions(fn: (first: PoolClient, second: PoolClient) => Promise<void>): Promise<void> {
  const first = await server.pool.connect();
  const second = await server.pool.connect();
  try {
    await first.query('BEGIN');
    await second.query('BEGIN');
    await fn(first, second);
  } finally {
    first.release(true);
    second.release(true);
  }
}

/** Asserts that `work` is still waiting (for a lock) 200 ms on; then runs `release` and waits for `work`. */
async function waitsFor(work: Promise<unknown>, release: () => Promise<unknown>): Promise<void> {
  let settled = false;
  const waiting = work.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 200));
  expect(settled).toBe(false);
  await release();
  await waiting;
}

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

const patient = (id: string, value: string | undefined, family: string) =>
  ({ resourceType: 'Patient', id, ...(value ? { identifier: [{ system: 'urn:cond', value }] } : {}), name: [{ family }] }) as never;
const touchRow = (client: PoolClient, id: string) => client.query(`UPDATE fhir_resource SET last_updated = now() WHERE resource_type = 'Patient' AND id = $1`, [id]);

describe('lockConditions', () => {
  it('a condition that matched nothing is looked up again after waiting for its lock', async () => {
    await inTwoTransactions(async (first, second) => {
      const a = storeInTransaction(first);
      await a.lockConditions([condition('new-1')]);
      expect(await a.findConditional('Patient', condition('new-1').params, 'test')).toBeUndefined();
      await a.applyWrites([{ kind: 'create', resource: patient('cond-new-1', 'new-1', 'New'), label: 'a' }]);
      // The second transaction asks for the same condition: it waits for the first's lock.
      const b = storeInTransaction(second);
      await waitsFor(b.lockConditions([condition('new-1')]), () => first.query('COMMIT'));
      // Looked up after the lock was granted: it sees what the first transaction created.
      expect((await b.findConditional('Patient', condition('new-1').params, 'test'))?.id).toBe('cond-new-1');
      await second.query('COMMIT');
    });
  });

  it('conditions that match are answered without a lock; others of any shape are locked', async () => {
    await new PgFhirStore(server.pool).create({ resourceType: 'Patient', identifier: [{ system: 'urn:cond', value: 'old-1' }] } as never);
    await inTwoTransactions(async (first, second) => {
      const nameCondition = { resourceType: 'Patient', params: new URLSearchParams({ name: 'nobody-cond' }) };
      await storeInTransaction(first).lockConditions([condition('old-1'), nameCondition]);
      // The matched identifier holds no lock: another transaction resolves it at once.
      const b = storeInTransaction(second);
      await b.lockConditions([condition('old-1')]);
      expect(await b.findConditional('Patient', condition('old-1').params, 'test')).toMatchObject({ versionId: 1 });
      // The other condition is locked: the second transaction waits for it.
      await waitsFor(b.lockConditions([nameCondition]), () => first.query('COMMIT'));
      await second.query('COMMIT');
    });
  });

  it('a condition resolved for a write locks its match: the update that follows sends only its write', async () => {
    const id = await patientWith('w-1', 'One');
    await inTwoTransactions(async (first, second) => {
      const statements = countStatements(first);
      const a = storeInTransaction(first);
      await a.lockConditions([forWrite('w-1')]);
      expect((await a.findConditional('Patient', condition('w-1').params, 'test'))?.id).toBe(id);
      const [outcome] = await a.applyWrites([{ kind: 'update', resource: patient(id, 'w-1', 'Changed'), label: 'a' }]);
      expect(outcome).toMatchObject({ outcome: 'updated', version: { versionId: 2 } });
      // The lookup with its row lock, then the write: no separate lock of the row.
      expect(statements()).toBe(2);
      // The row is locked until the first transaction ends: another writer waits.
      await waitsFor(touchRow(second, id), () => first.query('COMMIT'));
      await second.query('ROLLBACK');
    });
  });

  it('rows named by id are locked with the conditions; one that does not exist is created without a lock', async () => {
    const id = await patientWith('n-1', 'Named');
    await inTwoTransactions(async (first, second) => {
      const statements = countStatements(first);
      const a = storeInTransaction(first);
      await a.lockConditions([], [{ resourceType: 'Patient', id }, { resourceType: 'Patient', id: 'named-new-1' }]);
      const outcomes = await a.applyWrites([
        { kind: 'update', resource: patient(id, undefined, 'Renamed'), label: 'a' },
        { kind: 'update', resource: patient('named-new-1', undefined, 'New'), label: 'b' },
      ]);
      expect(outcomes.map((o) => [o.outcome, o.version.versionId])).toEqual([['updated', 2], ['created', 1]]);
      expect(statements()).toBe(2);
      await waitsFor(touchRow(second, id), () => first.query('COMMIT'));
      await second.query('ROLLBACK');
    });
  });

  it('a condition resolved only to read (conditional create) leaves its match unlocked', async () => {
    const id = await patientWith('r-1', 'Read');
    await inTwoTransactions(async (first) => {
      await storeInTransaction(first).lockConditions([condition('r-1')]);
      // Not locked: an update from outside goes through at once.
      const updated = await new PgFhirStore(server.pool).update(patient(id, 'r-1', 'Else'));
      expect(updated.version.versionId).toBe(2);
      await first.query('COMMIT');
    });
  });

  it('a match updated while its row lock was awaited is returned as committed, and the write follows it', async () => {
    const id = await patientWith('w-2', 'Two');
    await inTwoTransactions(async (other, mine) => {
      await storeInTransaction(other).applyWrites([{ kind: 'update', resource: patient(id, 'w-2', 'Meanwhile'), label: 'other' }]);
      const store = storeInTransaction(mine);
      await waitsFor(store.lockConditions([forWrite('w-2')]), () => other.query('COMMIT'));
      const found = await store.findConditional('Patient', condition('w-2').params, 'test');
      expect(found).toMatchObject({ id, versionId: 2 });
      expect(JSON.parse(found!.content!).name[0].family).toBe('Meanwhile');
      const [outcome] = await store.applyWrites([{ kind: 'update', resource: patient(id, 'w-2', 'Mine'), label: 'mine' }]);
      expect(outcome!.version.versionId).toBe(3);
      await mine.query('COMMIT');
      expect((await new PgFhirStore(server.pool).read('Patient', id)).versionId).toBe(3);
    });
  });

  it('a match deleted while its row lock was awaited leaves the condition to be resolved again: it finds nothing', async () => {
    const id = await patientWith('w-3', 'Three');
    await inTwoTransactions(async (other, mine) => {
      await storeInTransaction(other).applyWrites([{ kind: 'delete', resourceType: 'Patient', id, label: 'other' }]);
      const store = storeInTransaction(mine);
      await waitsFor(store.lockConditions([forWrite('w-3')]), () => other.query('COMMIT'));
      expect(await store.findConditional('Patient', condition('w-3').params, 'test')).toBeUndefined();
      // Resolved again, it holds the condition's lock (as a condition that matched nothing does):
      // no one else can create the resource it may create.
      await other.query('BEGIN');
      await waitsFor(storeInTransaction(other).lockConditions([condition('w-3')]), () => mine.query('COMMIT'));
      await other.query('COMMIT');
    });
  });
});
