/**
 * The PostgreSQL connection pool. One per process, created by the composition root and passed
 * to every component that needs it.
 */
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool, or a client holding a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

// Keep bigint (int8) and numeric values exact: they arrive as strings and are converted where used.
// timestamptz values are read as text and formatted by the SQL that selects them.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (value: string) => value);

export function createPool(connectionString: string, max: number): Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: 'carebridge',
    // Parallel workers only for big scans (a whole-type count), not for the few thousand index
    // entries of a typical search: on a small machine with concurrent requests, starting workers
    // cost more than it saved (a 3,240-Task worklist page: 24 → 18 ms without them).
    options: '-c parallel_setup_cost=10000',
  });
  // An idle client losing its connection (database restart) must not crash the process;
  // the pool discards it and the next query opens a new one.
  pool.on('error', () => undefined);
  return pool;
}

export interface RetryPolicy {
  /** Whether the whole transaction may succeed when run again (deadlock, serialization failure…). */
  retryIf: (err: unknown) => boolean;
  attempts: number;
}

/**
 * Runs `fn` inside BEGIN … COMMIT on one client, rolling back on any error; with `retry`, runs it
 * again (on a fresh transaction) while the error is retryable, up to `retry.attempts` times.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, retry?: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (!retry || attempt >= retry.attempts || !retry.retryIf(err)) throw err;
    } finally {
      client.release();
    }
  }
}
