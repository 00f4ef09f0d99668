// withTransaction sends BEGIN with the transaction's first query and, through commitWith, COMMIT
// with its last (src/db/pipelined-query.ts): fewer round trips, the same transaction. Counted
// here by the ReadyForQuery messages PostgreSQL sends — one per round trip.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipeline } from '../src/db/pipelined-query.ts';
import { answersCheckedAtCommit, withTransaction } from '../src/db/pool.ts';
import { countRoundTrips, watchQueries } from './helpers/round-trips.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer({ SUBSCRIPTION_ENGINE: 'off' });

const roundTrips = (fn: () => Promise<unknown>) => countRoundTrips(server.pool, fn);

const rowsOf = async (key: string) => (await server.pool.query('SELECT value FROM pipeline_test WHERE key = $1 ORDER BY value', [key])).rows.map((r) => r.value as number);

describe('withTransaction', () => {
  beforeAll(async () => {
    await server.pool.query('CREATE TABLE pipeline_test (key text NOT NULL, value int NOT NULL, UNIQUE (key, value))');
  });
  afterAll(async () => {
    await server.pool.query('DROP TABLE pipeline_test');
  });

  it('sends BEGIN with the first query and COMMIT with the last: two statements, two round trips', async () => {
    const n = await roundTrips(() =>
      withTransaction(server.pool, async (client, { commitWith }) => {
        await client.query('INSERT INTO pipeline_test VALUES ($1, $2)', ['a', 1]);
        const { rows } = await commitWith<{ n: number }>({ text: 'INSERT INTO pipeline_test VALUES ($1, $2) RETURNING value AS n', values: ['a', 2] });
        expect(rows).toEqual([{ n: 2 }]);
      }),
    );
    expect(n).toBe(2);
    expect(await rowsOf('a')).toEqual([1, 2]);
  });

  it('without commitWith, COMMIT is its own round trip; a transaction without queries sends nothing', async () => {
    expect(await roundTrips(() => withTransaction(server.pool, async (client) => client.query('INSERT INTO pipeline_test VALUES ($1, 1)', ['b'])))).toBe(2);
    expect(await rowsOf('b')).toEqual([1]);
    expect(await roundTrips(() => withTransaction(server.pool, async () => 'nothing'))).toBe(0);
  });

  it('the first query runs inside the transaction: an error later rolls it back', async () => {
    await expect(
      withTransaction(server.pool, async (client) => {
        await client.query('INSERT INTO pipeline_test VALUES ($1, 1)', ['c']);
        await client.query('SELECT 1 / 0');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await rowsOf('c')).toEqual([]);
  });

  it('a last statement that fails is not committed, nor is anything before it', async () => {
    await server.pool.query(`INSERT INTO pipeline_test VALUES ('d', 1)`);
    await expect(
      withTransaction(server.pool, async (client, { commitWith }) => {
        await client.query('INSERT INTO pipeline_test VALUES ($1, 2)', ['d']);
        await commitWith({ text: 'INSERT INTO pipeline_test VALUES ($1, 1)', values: ['d'] }); // duplicate
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await rowsOf('d')).toEqual([1]);
    // The client went back to the pool usable, outside any transaction.
    const { rows } = await server.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = $1', ['idle in transaction (aborted)']);
    expect(rows[0].n).toBe(0);
  });

  it('a failing first query fails the transaction; retries start afresh', async () => {
    let attempts = 0;
    await withTransaction(
      server.pool,
      async (client, { commitWith }) => {
        attempts++;
        if (attempts === 1) await client.query('INSERT INTO pipeline_test VALUES ($1, 1), ($1, 1)', ['e']); // violates its own unique key
        await commitWith({ text: 'INSERT INTO pipeline_test VALUES ($1, 2)', values: ['e'] });
      },
      { retryIf: (err) => (err as { code?: string }).code === '23505', attempts: 2 },
    );
    expect(attempts).toBe(2);
    expect(await rowsOf('e')).toEqual([2]);
  });

  it('named statements, and a query after commitWith is refused', async () => {
    for (let i = 1; i <= 2; i++) {
      // Parsed in the first transaction's pipeline (after BEGIN); only bound in the second's.
      await withTransaction(server.pool, async (client, { commitWith }) => {
        await client.query({ name: 'pipeline_test_insert', text: 'INSERT INTO pipeline_test VALUES ($1, $2)', values: ['f', i] });
        await commitWith({ name: 'pipeline_test_insert', text: 'INSERT INTO pipeline_test VALUES ($1, $2)', values: ['f', i + 10] });
      });
    }
    expect(await rowsOf('f')).toEqual([1, 2, 11, 12]);
    await expect(
      withTransaction(server.pool, async (client, { commitWith }) => {
        await commitWith({ text: 'INSERT INTO pipeline_test VALUES ($1, 1)', values: ['g'] });
        await client.query('INSERT INTO pipeline_test VALUES ($1, 2)', ['g']);
      }),
    ).rejects.toThrow(/already committed/);
    expect(await rowsOf('g')).toEqual([1]);
  });

  it('withNext: a statement travels with the next query — BEGIN, it and the query in one round trip — and gets its own result', async () => {
    const n = await roundTrips(() =>
      withTransaction(server.pool, async (client, { withNext, commitWith }) => {
        const ahead = withNext<{ v: number }>({ text: 'INSERT INTO pipeline_test VALUES ($1, $2) RETURNING value AS v', values: ['wn-a', 1] });
        const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pipeline_test WHERE key = $1', ['wn-a']);
        // It ran first: the query sees its row.
        expect(rows).toEqual([{ n: 1 }]);
        expect((await ahead).rows).toEqual([{ v: 1 }]);
        await commitWith({ text: 'INSERT INTO pipeline_test VALUES ($1, 2)', values: ['wn-a'] });
      }),
    );
    expect(n).toBe(2);
    expect(await rowsOf('wn-a')).toEqual([1, 2]);
  });

  it('withNext: awaited with no query after it, it is sent on its own; left waiting, it goes with the COMMIT', async () => {
    await withTransaction(server.pool, async (_client, { withNext }) => {
      expect((await withNext<{ v: number }>({ text: 'INSERT INTO pipeline_test VALUES ($1, 1) RETURNING value AS v', values: ['wn-b'] })).rows).toEqual([{ v: 1 }]);
    });
    let last: Promise<unknown> | undefined;
    const n = await roundTrips(() =>
      withTransaction(server.pool, async (_client, { withNext }) => {
        last = withNext({ text: 'INSERT INTO pipeline_test VALUES ($1, 2)', values: ['wn-b'] });
      }),
    );
    await last;
    expect(n).toBe(1);
    expect(await rowsOf('wn-b')).toEqual([1, 2]);
  });

  it('withNext: when it fails, the query behind it fails too and nothing is committed', async () => {
    await server.pool.query(`INSERT INTO pipeline_test VALUES ('wn-c', 1)`);
    let ahead: Promise<unknown> | undefined;
    await expect(
      withTransaction(server.pool, async (client, { withNext }) => {
        ahead = withNext({ text: 'INSERT INTO pipeline_test VALUES ($1, 1)', values: ['wn-c'] }); // duplicate
        ahead.catch(() => undefined);
        await client.query('INSERT INTO pipeline_test VALUES ($1, 2)', ['wn-c']);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    await expect(ahead).rejects.toMatchObject({ code: '23505' });
    expect(await rowsOf('wn-c')).toEqual([1]);
    const { rows } = await server.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = $1', ['idle in transaction (aborted)']);
    expect(rows[0].n).toBe(0);
  });

  it('commitWith behind a statement still unanswered: sent before its answer, run after it, committed with it', async () => {
    const watched = await watchQueries(server.pool, () =>
      withTransaction(server.pool, async (client, { commitWith }) => {
        expect(answersCheckedAtCommit(client)).toBe(true);
        // Not awaited: its answer comes after the COMMIT has been sent.
        const slow = client.query(`INSERT INTO pipeline_test SELECT $1, 1 FROM pg_sleep(0.2)`, ['cb-a']);
        const started = performance.now();
        const sending = commitWith({ text: 'INSERT INTO pipeline_test VALUES ($1, 2)', values: ['cb-a'] });
        await slow;
        await sending;
        expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      }),
    );
    // One trip on the wire: BEGIN and the slow INSERT, then the last INSERT and COMMIT bound before any answer was read.
    expect(watched.clients.filter((trips) => trips.length)).toEqual([[['BEGIN', 'INSERT INTO pipeline_test', 'INSERT INTO pipeline_test', 'COMMIT']]]);
    expect(await rowsOf('cb-a')).toEqual([1, 2]);
  });

  it('a statement whose answer was not awaited fails the transaction: commitWith and commit report its error, and nothing is committed', async () => {
    await server.pool.query(`INSERT INTO pipeline_test VALUES ('cb-b', 1)`);
    let client: unknown;
    await expect(
      withTransaction(server.pool, async (c, { commitWith }) => {
        client = c;
        await c.query('INSERT INTO pipeline_test VALUES ($1, 2)', ['cb-b']);
        c.query('INSERT INTO pipeline_test VALUES ($1, 1)', ['cb-b']).catch(() => undefined); // duplicate, answer not awaited
        await commitWith({ text: 'INSERT INTO pipeline_test VALUES ($1, 3)', values: ['cb-b'] });
      }),
    ).rejects.toMatchObject({ code: '23505' }); // not "current transaction is aborted"
    expect(answersCheckedAtCommit(client as never)).toBe(false); // after the transaction
    await expect(
      withTransaction(server.pool, async (c) => {
        await c.query('INSERT INTO pipeline_test VALUES ($1, 4)', ['cb-b']);
        c.query('INSERT INTO pipeline_test VALUES ($1, 1)', ['cb-b']).catch(() => undefined);
      }),
    ).rejects.toMatchObject({ code: '23505' }); // the plain COMMIT would have answered ROLLBACK
    expect(await rowsOf('cb-b')).toEqual([1]);
    const { rows } = await server.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = $1', ['idle in transaction (aborted)']);
    expect(rows[0].n).toBe(0);
  });

  it('a statement refused because an earlier one failed reports that failure, and a retry starts afresh', async () => {
    await server.pool.query(`INSERT INTO pipeline_test VALUES ('cb-c', 1)`);
    let attempts = 0;
    const errors: unknown[] = [];
    await withTransaction(
      server.pool,
      async (client) => {
        attempts++;
        if (attempts === 1) client.query('INSERT INTO pipeline_test VALUES ($1, 1)', ['cb-c']).catch(() => undefined);
        await client.query('INSERT INTO pipeline_test VALUES ($1, 2)', ['cb-c']).catch((err: unknown) => {
          errors.push(err);
          throw err;
        });
      },
      { retryIf: (err) => (err as { code?: string }).code === '23505', attempts: 2 },
    );
    expect(attempts).toBe(2);
    expect(errors).toMatchObject([{ code: '23505' }]);
    expect(await rowsOf('cb-c')).toEqual([1, 2]);
  });

  it('a failure rolled back to a savepoint does not fail the commit', async () => {
    await server.pool.query(`INSERT INTO pipeline_test VALUES ('cb-d', 1)`);
    await withTransaction(server.pool, async (client, { commitWith }) => {
      await client.query('INSERT INTO pipeline_test VALUES ($1, 2)', ['cb-d']);
      await client.query('SAVEPOINT cb_d');
      const failing = client.query('INSERT INTO pipeline_test VALUES ($1, 1)', ['cb-d']); // duplicate
      const after = client.query('INSERT INTO pipeline_test VALUES ($1, 3)', ['cb-d']);
      await expect(failing).rejects.toMatchObject({ code: '23505' });
      await expect(after).rejects.toMatchObject({ code: '23505' }); // refused: reports what aborted the transaction
      await client.query('ROLLBACK TO SAVEPOINT cb_d');
      await commitWith({ text: 'INSERT INTO pipeline_test VALUES ($1, 4)', values: ['cb-d'] });
    });
    expect(await rowsOf('cb-d')).toEqual([1, 2, 4]);
  });

  it('withNext refuses named statements', async () => {
    await withTransaction(server.pool, async (_client, { withNext }) => {
      await expect(withNext({ name: 'x', text: 'SELECT 1' })).rejects.toThrow(/unnamed/);
    });
  });

  it('a named statement first parsed in a pipeline: parsed again after a failure before it, not after one in it', async () => {
    const client = await server.pool.connect();
    try {
      // The statement ahead fails: PostgreSQL skips the rest, the named statement is never parsed…
      await expect(pipeline(client, [{ text: 'SELECT 1/0' }], { name: 'pq_named_1', text: 'SELECT $1::int AS v', values: [1] }, [])).rejects.toMatchObject({ code: '22012' });
      // …so its next use parses it (binding it would fail: it does not exist).
      expect((await client.query({ name: 'pq_named_1', text: 'SELECT $1::int AS v', values: [2] })).rows).toEqual([{ v: 2 }]);
      // It is parsed, then fails to run: its next use binds it (parsing it again would fail: it exists).
      await expect(pipeline(client, [{ text: 'SELECT 1' }], { name: 'pq_named_2', text: 'SELECT 1/$1::int AS v', values: [0] }, [])).rejects.toMatchObject({ code: '22012' });
      expect((await client.query({ name: 'pq_named_2', text: 'SELECT 1/$1::int AS v', values: [1] })).rows).toEqual([{ v: 1 }]);
    } finally {
      client.release(true);
    }
  });
});
