// PgFhirStore.applyWrites overlaps its work with PostgreSQL's: resources are validated while the
// write statement runs, and new resources prepared while the rows being replaced are locked.
// These tests hold it to what doing one after the other guaranteed: an invalid resource is
// reported as a validation error naming its entry — the first failing entry in the order given,
// even when a later one fails otherwise — and, once the transaction is rolled back, nothing of the
// batch remains; a new version is never timestamped before the version it replaces.
import { describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { withTransaction } from '../src/db/pool.ts';
import { ErrorCode, FhirError, isRetryable, PgFhirStore, storeInTransaction } from '../src/fhir/index.ts';
import { emptyIndexRows } from '../src/fhir/search/index-rows.ts';
import { writeVersions } from '../src/fhir/store/write-versions.ts';
import type { FhirStore } from '../src/fhir/index.ts';
import { watchQueries } from './helpers/round-trips.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

async function inRolledBackTransaction(fn: (store: FhirStore) => Promise<void>): Promise<void> {
  const client = await server.pool.connect();
  try {
    await client.query('BEGIN');
    try {
      await fn(storeInTransaction(client));
    } finally {
      await client.query('ROLLBACK');
    }
  } finally {
    client.release();
  }
}

/** The outcome `promise` rejects with, as JSON; fails unless it is a validation error naming `label` and `element`. */
async function invalidResource(promise: Promise<unknown>, label: string, element: string): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FhirError);
  const { issue = [] } = (err as FhirError).outcome;
  // Validation issues: structure (from the StructureDefinitions), value, invariant, required.
  expect(issue.map((i) => i.code).every((code) => ['structure', 'value', 'invariant', 'required', 'code-invalid'].includes(code))).toBe(true);
  const text = JSON.stringify(issue);
  expect(text).toContain(`${label}:`);
  expect(text).toContain(element);
  return text;
}

const notFound = { errorCode: ErrorCode.NOT_FOUND };

const create = (resource: Record<string, unknown>, label: string) => ({ kind: 'create' as const, resource: resource as unknown as Resource & { id: string }, label });

describe('applyWrites: validation beside the write', () => {
  it('reports the invalid resource, and the rolled-back transaction keeps nothing of the batch', async () => {
    const store = new PgFhirStore(server.pool);
    await inRolledBackTransaction(async (tx) => {
      const text = await invalidResource(
        tx.applyWrites([
          create({ resourceType: 'Patient', id: 'vo-valid', identifier: [{ system: 'urn:vo', value: '1' }] }, 'first'),
          create({ resourceType: 'Patient', id: 'vo-invalid', identifier: [{ system: 'urn:vo', value: '2' }], gender: 'robot' }, 'second'),
        ]),
        'second',
        'Patient.gender',
      );
      expect(text).not.toContain('first:');
    });
    await expect(store.read('Patient', 'vo-valid')).rejects.toMatchObject(notFound);
    await expect(store.read('Patient', 'vo-invalid')).rejects.toMatchObject(notFound);
  });

  it('an invalid shape that breaks index extraction is still a validation error, not a crash', async () => {
    await inRolledBackTransaction(async (tx) => {
      // given must be an array of strings: index extraction would fail on it with a TypeError.
      await invalidResource(tx.applyWrites([create({ resourceType: 'Patient', id: 'vo-shape', name: [{ given: 5 }] }, 'odd')]), 'odd', 'Patient.name');
    });
  });

  it('an earlier invalid entry is reported before a later entry that fails its version check', async () => {
    const store = new PgFhirStore(server.pool);
    await store.update({ resourceType: 'Patient', id: 'vo-versioned' } as Resource);
    await inRolledBackTransaction(async (tx) => {
      const text = await invalidResource(
        tx.applyWrites([
          create({ resourceType: 'Observation', id: 'vo-obs', status: 'not-a-status', code: { text: 'x' } }, 'earlier'),
          { kind: 'update', resource: { resourceType: 'Patient', id: 'vo-versioned', gender: 'male' } as Resource & { id: string }, ifMatch: 7, label: 'later' },
        ]),
        'earlier',
        'Observation.status',
      );
      expect(text).not.toContain(ErrorCode.VERSION_CONFLICT);
    });
    expect((await store.read('Patient', 'vo-versioned')).versionId).toBe(1);
  });
});

describe('applyWrites: versions follow in time', () => {
  it('stamps a new version after the one it replaces, even one stamped later than our clock (another node)', async () => {
    const store = new PgFhirStore(server.pool);
    await store.update({ resourceType: 'Patient', id: 'vo-future', gender: 'female' } as Resource);
    const future = new Date(Date.now() + 3_600_000);
    await server.pool.query(`UPDATE fhir_resource SET last_updated = $1 WHERE resource_type = 'Patient' AND id = 'vo-future'`, [future]);
    const client = await server.pool.connect();
    try {
      await client.query('BEGIN');
      const [written] = await storeInTransaction(client).applyWrites([
        { kind: 'update', resource: { resourceType: 'Patient', id: 'vo-future', gender: 'male' } as Resource & { id: string }, label: 'update' },
        create({ resourceType: 'Patient', id: 'vo-beside', gender: 'other' }, 'create'),
      ]);
      await client.query('COMMIT');
      expect(Date.parse(written!.version.lastUpdated)).toBeGreaterThan(future.getTime());
    } finally {
      client.release();
    }
    const beside = await store.read('Patient', 'vo-beside');
    const updated = await store.read('Patient', 'vo-future');
    // One transaction, one timestamp: the create prepared before the lock was stamped again.
    expect(beside.lastUpdated).toBe(updated.lastUpdated);
    expect(Date.parse(JSON.parse(beside.content!).meta.lastUpdated)).toBe(Date.parse(updated.lastUpdated));
  });
});

describe('applyWrites: the write checked by PostgreSQL, its answer read at the commit', () => {
  const versionOf = (resource: Record<string, unknown>, isNew: boolean) => ({
    resourceType: resource.resourceType as string,
    id: resource.id as string,
    versionId: 1,
    lastUpdated: new Date().toISOString(),
    deleted: false,
    content: JSON.stringify(resource),
    isNew,
    interaction: 'create' as const,
    rows: emptyIndexRows(),
  });

  it('the statement fails, retryably, when it did not write what was planned — an update of a row that is not there — and keeps nothing', async () => {
    const store = new PgFhirStore(server.pool);
    const err = await writeVersions(server.pool, [versionOf({ resourceType: 'Patient', id: 'wc-new' }, true), versionOf({ resourceType: 'Patient', id: 'wc-missing' }, false)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '40001', message: 'wrote 1 inserts and 0 updates, expected 1 and 1' });
    expect(isRetryable(err)).toBe(true);
    await expect(store.read('Patient', 'wc-new')).rejects.toMatchObject(notFound);
  });

  it('in withTransaction, applyWrites returns before the write is answered; a write that fails fails the commit with its own error, and nothing is kept', async () => {
    const store = new PgFhirStore(server.pool);
    await store.update({ resourceType: 'Patient', id: 'wc-taken', gender: 'female' } as Resource);
    const err = await withTransaction(server.pool, async (client) => {
      // A create under an id that exists: the INSERT fails (unique violation) in PostgreSQL.
      const outcomes = await storeInTransaction(client).applyWrites([
        create({ resourceType: 'Patient', id: 'wc-beside', gender: 'other' }, 'beside'),
        create({ resourceType: 'Patient', id: 'wc-taken', gender: 'male' }, 'taken'),
      ]);
      expect(outcomes.map((o) => o.outcome)).toEqual(['created', 'created']); // not yet answered
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '23505' });
    await expect(store.read('Patient', 'wc-beside')).rejects.toMatchObject(notFound);
    expect(JSON.parse((await store.read('Patient', 'wc-taken')).content!).gender).toBe('female');
  });

  it('in a transaction begun by hand (no check at the commit), applyWrites waits for the write and throws its error itself', async () => {
    const store = new PgFhirStore(server.pool);
    await store.update({ resourceType: 'Patient', id: 'wc-taken-2' } as Resource);
    await inRolledBackTransaction(async (tx) => {
      await expect(tx.applyWrites([create({ resourceType: 'Patient', id: 'wc-taken-2', gender: 'male' }, 'taken')])).rejects.toMatchObject({ code: '23505' });
    });
  });
});

describe('expectAbsent: rows the caller knows are not there', () => {
  const update = (resource: Record<string, unknown>, label: string) => ({ kind: 'update' as const, resource: resource as unknown as Resource & { id: string }, label });

  it('an update of a row expected absent creates it without locking or reading the row first', async () => {
    const store = new PgFhirStore(server.pool);
    const watched = await watchQueries(server.pool, () =>
      withTransaction(server.pool, async (client) => {
        const tx = storeInTransaction(client);
        tx.expectAbsent([{ resourceType: 'Provenance', id: 'ea-new' }]);
        const [outcome] = await tx.applyWrites([update({ resourceType: 'Provenance', id: 'ea-new', target: [{ reference: 'Patient/x' }], recorded: '2026-11-25T00:00:00Z', agent: [{ who: { display: 'x' } }] }, 'provenance')]);
        expect(outcome).toMatchObject({ outcome: 'created', version: { versionId: 1 } });
      }),
    );
    const statements = watched.clients.flat(2);
    expect(statements).not.toContain('cb_lock_one');
    expect(statements).toContain('cb_insert_versions');
    expect((await store.read('Provenance', 'ea-new')).versionId).toBe(1);
  });

  it('when the row is there after all, the write fails the commit as a unique violation (retryable) and changes nothing', async () => {
    const store = new PgFhirStore(server.pool);
    await store.update({ resourceType: 'Patient', id: 'ea-taken', gender: 'female' } as Resource);
    const err = await withTransaction(server.pool, async (client) => {
      const tx = storeInTransaction(client);
      tx.expectAbsent([{ resourceType: 'Patient', id: 'ea-taken' }]);
      await tx.applyWrites([update({ resourceType: 'Patient', id: 'ea-taken', gender: 'male' }, 'taken')]);
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: '23505' });
    expect(isRetryable(err)).toBe(true);
    const current = await store.read('Patient', 'ea-taken');
    expect(current.versionId).toBe(1);
    expect(JSON.parse(current.content!).gender).toBe('female');
  });

  it('is only for transactions', () => {
    expect(() => new PgFhirStore(server.pool).expectAbsent([{ resourceType: 'Patient', id: 'x' }])).toThrow(/inside a transaction/);
  });
});
