/**
 * The PostgreSQL connection pool. One per process, created by the composition root and passed
 * to every component that needs it.
 */
import pg from 'pg';
import { queryWith } from './pipelined-query.ts';

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
 * Runs `query` and COMMIT in one round trip: the transaction's last statement. After it the
 * transaction is over; when it fails, nothing was committed.
 */
export type CommitWith = <R extends pg.QueryResultRow = pg.QueryResultRow>(query: pg.QueryConfig) => Promise<pg.QueryResult<R>>;

/**
 * Runs `fn` inside BEGIN … COMMIT on one client, rolling back on any error; with `retry`, runs it
 * again (on a fresh transaction) while the error is retryable, up to `retry.attempts` times.
 *
 * BEGIN travels with the transaction's first query, and `fn` may end the transaction with
 * `commitWith` (its last statement and COMMIT together): a transaction of n statements costs n
 * round trips, not n + 2 (pipelined-query.ts).
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient, commitWith: CommitWith) => Promise<T>, retry?: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    const tx = new LazyTransaction(client);
    try {
      const result = await fn(client, tx.commitWith);
      await tx.commit();
      return result;
    } catch (err) {
      await tx.rollback();
      if (!retry || attempt >= retry.attempts || !retry.retryIf(err)) throw err;
    } finally {
      tx.end();
      client.release();
    }
  }
}

/**
 * A transaction on `client` that sends BEGIN with the first query made on it. Until then the
 * client's `query` is shadowed by one that does so; any query node-postgres cannot pipeline (a
 * callback, a submittable, paged rows, a named statement not yet parsed on this connection) gets
 * BEGIN queued ahead of it instead, which is as correct and one round trip slower.
 */
class LazyTransaction {
  readonly #client: PoolClient;
  #state: 'idle' | 'begun' | 'committed' = 'idle';

  constructor(client: PoolClient) {
    this.#client = client;
    const first = (config: unknown, values?: unknown, callback?: unknown): unknown => {
      this.end();
      this.#state = 'begun';
      const query = pipelinable(client, config, values, callback);
      if (query) return queryWith(client, ['BEGIN'], query, []);
      this.#queueBegin();
      return (client.query as (...args: unknown[]) => unknown)(config, values, callback);
    };
    Object.defineProperty(client, 'query', { value: first, configurable: true, writable: true });
  }

  readonly commitWith: CommitWith = async (query) => {
    if (this.#state === 'committed') throw new Error('the transaction is already committed');
    let before = this.#state === 'idle' ? ['BEGIN'] : [];
    this.end();
    if (before.length && !pipelinable(this.#client, query, undefined, undefined)) {
      this.#queueBegin();
      before = [];
    }
    this.#state = 'begun';
    const result = await queryWith(this.#client, before, query, ['COMMIT']);
    this.#state = 'committed';
    // Nothing more belongs to this transaction: a later query on the client would run outside it.
    Object.defineProperty(this.#client, 'query', {
      value: () => Promise.reject(new Error('the transaction is already committed')),
      configurable: true,
      writable: true,
    });
    return result as never;
  };

  /** BEGIN on its own, queued ahead of the query that follows (node-postgres runs a client's queries in order). */
  #queueBegin(): void {
    void this.#client.query('BEGIN').catch(() => undefined); // its failure fails the query behind it
  }

  async commit(): Promise<void> {
    if (this.#state === 'begun') await this.#client.query('COMMIT');
    this.#state = 'committed';
  }

  async rollback(): Promise<void> {
    this.end();
    // After a commitWith that failed, its COMMIT either never ran (the transaction is open and
    // aborted) or failed and ended it (ROLLBACK then only warns).
    if (this.#state === 'begun') await this.#client.query('ROLLBACK').catch(() => undefined);
  }

  /** Gives the client its own `query` back. */
  end(): void {
    if (Object.hasOwn(this.#client, 'query')) delete (this.#client as { query?: unknown }).query;
  }
}

/** The query as a config queryWith can send after BEGIN, or undefined when it cannot be pipelined. */
function pipelinable(client: PoolClient, config: unknown, values: unknown, callback: unknown): pg.QueryConfig | undefined {
  if (callback !== undefined || typeof values === 'function') return undefined;
  const query: pg.QueryConfig | undefined =
    typeof config === 'string' ? { text: config, values: values as unknown[] | undefined } : typeof config === 'object' && config !== null && !('submit' in config) ? { ...(config as pg.QueryConfig) } : undefined;
  if (!query || (query as { rows?: unknown }).rows !== undefined) return undefined;
  if (values !== undefined && typeof config !== 'string') query.values = values as unknown[];
  // A named statement's first Parse would be recorded as done when BEGIN's completes (node-postgres
  // tracks parses per query, not per statement): pipeline it only once it is parsed.
  const parsed = (client as unknown as { connection: { parsedStatements: Record<string, string> } }).connection.parsedStatements;
  if (query.name && parsed[query.name] === undefined) return undefined;
  return query;
}
