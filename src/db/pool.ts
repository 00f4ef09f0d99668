/**
 * The PostgreSQL connection pool. One per process, created by the composition root and passed
 * to every component that needs it.
 */
import pg from 'pg';
import { pipelineBehind } from './pipelined-query.ts';
import type { Statement } from './pipelined-query.ts';

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

/** Runs one statement (a query config) and resolves with its result. */
export type SendQuery = <R extends pg.QueryResultRow = pg.QueryResultRow>(query: pg.QueryConfig) => Promise<pg.QueryResult<R>>;

/**
 * Runs `query` and COMMIT in one round trip: the transaction's last statement. After it the
 * transaction is over; when it fails, nothing was committed.
 */
export type CommitWith = SendQuery;

/** What withTransaction gives `fn` besides the client: ways to save round trips. */
export interface Transaction {
  /** The transaction's last statement, sent with COMMIT (see CommitWith). */
  commitWith: CommitWith;
  /**
   * Sends `query` (unnamed) ahead of the next query made on the client, in the same round trip,
   * and resolves with its result when that one's arrives. Statements run in the order they are
   * sent; when one fails, PostgreSQL skips the rest: both promises reject and the transaction is
   * to be rolled back. Lets a caller issue a statement whose answer it does not need before its
   * next one. If no query follows before the event loop turns (the caller waits for this one, or
   * for I/O), it is sent on its own.
   */
  withNext: SendQuery;
}

/**
 * Runs `fn` inside BEGIN … COMMIT on one client, rolling back on any error; with `retry`, runs it
 * again (on a fresh transaction) while the error is retryable, up to `retry.attempts` times.
 *
 * BEGIN travels with the transaction's first query, and `fn` may end the transaction with
 * `commitWith` (its last statement and COMMIT together): a transaction of n statements costs n
 * round trips, not n + 2 (pipelined-query.ts); statements given to `withNext` travel with the
 * query after them. The transaction commits only if every statement sent on it succeeded, read
 * or not (see answersCheckedAtCommit).
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient, tx: Transaction) => Promise<T>, retry?: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    const tx = new LazyTransaction(client);
    try {
      const result = await fn(client, tx);
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

/** Clients in a withTransaction transaction. */
const checkedAtCommit = new WeakSet<PoolClient>();

/**
 * Whether `client` is in a withTransaction transaction. Such a transaction commits only once every
 * statement sent on it has succeeded, and a statement that fails only because an earlier one
 * aborted the transaction reports that earlier failure: so a caller may send a statement and go
 * on without waiting for its answer — its failure still fails the transaction, where it is
 * reported. (With BEGIN and COMMIT sent by hand, a COMMIT after a failed statement answers
 * ROLLBACK without an error: there, every answer must be read.)
 */
export function answersCheckedAtCommit(client: PoolClient): boolean {
  return checkedAtCommit.has(client);
}

/** SQLSTATE 25P02: a statement refused because an earlier one aborted the transaction. */
const IN_FAILED_TRANSACTION = '25P02';

interface Ahead {
  query: pg.QueryConfig;
  resolve: (result: pg.QueryResult) => void;
  reject: (err: unknown) => void;
}

/**
 * A transaction on `client` that sends BEGIN, and the statements given to withNext, with the next
 * query made on it; a query node-postgres cannot pipeline (a callback, a submittable, paged rows —
 * none of which this server sends inside a transaction) gets them queued ahead of it instead,
 * which is as correct and one round trip slower each. The client's `query` is shadowed for the
 * transaction's length, to do that and to keep every statement's outcome for the commit.
 */
class LazyTransaction implements Transaction {
  readonly #client: PoolClient;
  #state: 'idle' | 'begun' | 'committed' = 'idle';
  #ahead: Ahead[] = [];
  #flushScheduled = false;
  /** Every statement sent, in order, as its failure once answered (undefined: it succeeded). */
  #sent: Array<Promise<{ error: unknown } | undefined>> = [];

  constructor(client: PoolClient) {
    this.#client = client;
    checkedAtCommit.add(client);
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    const send = (config: unknown, values?: unknown, callback?: unknown): unknown => {
      if (this.#state === 'committed') return Promise.reject(new Error('the transaction is already committed'));
      const { statements, waiting } = this.#takeAhead();
      if (!statements.length) return this.#track(original(config, values, callback));
      const query = pipelinable(config, values, callback);
      if (query) return this.#send(statements, waiting, query, []).then((results) => results[statements.length]!);
      this.#queue(statements, waiting, original);
      return this.#track(original(config, values, callback));
    };
    Object.defineProperty(client, 'query', { value: send, configurable: true, writable: true });
  }

  /**
   * Keeps the outcome of a statement sent (a promise; a submittable is not followed) for the
   * commit; the promise given back reports, instead of "current transaction is aborted", the
   * failure of the earlier statement that aborted the transaction.
   */
  #track<R>(result: R): R {
    if (!(result instanceof Promise)) return result;
    const position = this.#sent.length;
    this.#sent.push(result.then(() => undefined, (error: unknown) => ({ error })));
    return result.catch(async (error: unknown) => {
      if ((error as { code?: string }).code === IN_FAILED_TRANSACTION) {
        const cause = await abortingFailure(this.#sent.slice(0, position));
        if (cause) throw cause.error;
      }
      throw error;
    }) as R;
  }

  /** Resolves once the statements (all sent, by default) are answered; rejects with the failure that aborted the transaction, if one did. */
  async #settled(outcomes: ReadonlyArray<Promise<{ error: unknown } | undefined>> = this.#sent): Promise<void> {
    const failure = await abortingFailure(outcomes);
    if (failure) throw failure.error;
  }

  /** Statements to send ahead of the next query: BEGIN first when the transaction has not begun. */
  #takeAhead(): { statements: Statement[]; waiting: Ahead[] } {
    const waiting = this.#ahead;
    this.#ahead = [];
    const statements: Statement[] = [...(this.#state === 'idle' ? ['BEGIN'] : []), ...waiting.map((a) => a.query)];
    this.#state = 'begun';
    return { statements, waiting };
  }

  /**
   * Sends the statements ahead of `query` (and `after` behind it) in one round trip — at once,
   * behind a statement still unanswered (pipelineBehind) — and settles their promises.
   */
  async #send(statements: Statement[], waiting: Ahead[], query: pg.QueryConfig, after: string[]): Promise<pg.QueryResult[]> {
    let results: pg.QueryResult[];
    try {
      results = await this.#track(pipelineBehind(this.#client, statements, query, after));
    } catch (err) {
      for (const w of waiting) w.reject(err);
      throw err;
    }
    const skip = statements.length - waiting.length;
    waiting.forEach((w, i) => w.resolve(results[skip + i]!));
    return results;
  }

  /** Queues the statements as queries of their own, ahead of whatever the client runs next. */
  #queue(statements: Statement[], waiting: Ahead[], original: (...args: unknown[]) => unknown): void {
    const skip = statements.length - waiting.length;
    statements.forEach((statement, i) => {
      const sent = this.#track(original(statement) as Promise<pg.QueryResult>);
      const w = i >= skip ? waiting[i - skip] : undefined;
      if (w) sent.then(w.resolve, w.reject);
      else sent.catch(() => undefined); // BEGIN: its failure fails the query behind it
    });
  }

  // An arrow function, like commitWith: callers pass it on detached from the transaction.
  readonly withNext: SendQuery = (query) => {
    if (this.#state === 'committed') return Promise.reject(new Error('the transaction is already committed'));
    if (query.name) return Promise.reject(new Error(`withNext takes unnamed statements (got "${query.name}")`));
    return new Promise((resolve, reject) => {
      this.#ahead.push({ query, resolve: resolve as Ahead['resolve'], reject });
      this.#flushSoon();
    });
  };

  /** Sends the waiting statements by themselves if no query has taken them by the next turn of the event loop. */
  #flushSoon(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#ahead.length && this.#state !== 'committed') void this.#sendAlone().catch(() => undefined); // their promises carry the outcome
    });
  }

  /** The waiting statements in one round trip of their own (the last one as the query). */
  async #sendAlone(): Promise<void> {
    const { statements, waiting } = this.#takeAhead();
    const last = waiting.pop()!;
    const results = await this.#send(statements.slice(0, -1), waiting, last.query, []).catch((err: unknown) => {
      last.reject(err);
      throw err;
    });
    last.resolve(results[statements.length - 1]!);
  }

  /**
   * The last statement and COMMIT, sent at once — behind a statement whose answer has not come
   * yet, if there is one: PostgreSQL runs them after it, and not at all if it failed. Resolves
   * once every statement of the transaction has succeeded and the COMMIT with it.
   */
  readonly commitWith: CommitWith = async (query) => {
    if (this.#state === 'committed') throw new Error('the transaction is already committed');
    const config = pipelinable(query, undefined, undefined);
    if (!config) throw new Error('commitWith cannot page rows: the COMMIT follows the statement in its round trip');
    const { statements, waiting } = this.#takeAhead();
    const results = await this.#send(statements, waiting, config, ['COMMIT']).catch(async (err: unknown) => {
      await this.#settled(); // throws the failure that aborted the transaction, if one did
      throw err;
    });
    // The statement behind which it went succeeded too: it would have been refused otherwise.
    committed(results[results.length - 1]!);
    // Nothing more belongs to this transaction: a later query on the client would run outside it.
    this.#state = 'committed';
    return results[statements.length] as never;
  };

  async commit(): Promise<void> {
    if (this.#state === 'committed') return;
    if (this.#ahead.length || this.#state === 'begun') {
      // Statements still waiting go with the COMMIT.
      const { statements, waiting } = this.#takeAhead();
      const before = this.#sent.slice(); // the COMMIT answers (ROLLBACK) even when they failed
      const results = await this.#send(statements, waiting, { text: 'COMMIT' }, []);
      await this.#settled(before);
      committed(results[statements.length]!);
    }
    this.#state = 'committed';
  }

  async rollback(): Promise<void> {
    for (const w of this.#ahead.splice(0)) w.reject(new Error('the transaction was rolled back before this statement was sent'));
    // After a commitWith that failed, its COMMIT either never ran (the transaction is open and
    // aborted) or failed and ended it (ROLLBACK then only warns).
    if (this.#state === 'begun') await this.#client.query('ROLLBACK').catch(() => undefined);
    await Promise.all(this.#sent);
  }

  /** Gives the client its own `query` back. */
  end(): void {
    checkedAtCommit.delete(this.#client);
    if (Object.hasOwn(this.#client, 'query')) delete (this.#client as { query?: unknown }).query;
  }
}

/** Throws unless the COMMIT committed: PostgreSQL answers a COMMIT of an aborted transaction with ROLLBACK, not an error. */
function committed(commit: pg.QueryResult): void {
  if (commit.command !== 'COMMIT') throw new Error(`COMMIT answered ${commit.command}: the transaction was not committed`);
}

/**
 * Of statements' outcomes in the order sent, the failure that leaves the transaction aborted: the
 * first one after the last statement that succeeded (after a failure, only a ROLLBACK TO
 * SAVEPOINT can succeed, and it ends the abort). Undefined when the transaction is not aborted.
 */
async function abortingFailure(outcomes: ReadonlyArray<Promise<{ error: unknown } | undefined>>): Promise<{ error: unknown } | undefined> {
  let aborting: { error: unknown } | undefined;
  for (const outcome of outcomes) {
    const failure = await outcome;
    aborting = failure ? (aborting ?? failure) : undefined;
  }
  return aborting;
}

/** The query as a config pipeline() can send after other statements, or undefined when it cannot be pipelined. */
function pipelinable(config: unknown, values: unknown, callback: unknown): pg.QueryConfig | undefined {
  if (callback !== undefined || typeof values === 'function') return undefined;
  const query: pg.QueryConfig | undefined =
    typeof config === 'string' ? { text: config, values: values as unknown[] | undefined } : typeof config === 'object' && config !== null && !('submit' in config) ? { ...(config as pg.QueryConfig) } : undefined;
  if (!query || (query as { rows?: unknown }).rows !== undefined) return undefined;
  if (values !== undefined && typeof config !== 'string') query.values = values as unknown[];
  return query;
}
