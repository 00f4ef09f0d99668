/**
 * A query sent together with statements before and after it, in one round trip: BEGIN (and any
 * statement queued to go first) before the first statement of a transaction, COMMIT after its
 * last. node-postgres sends one query at a time and waits for its answer; each wait is a round
 * trip through the kernel (on a 2-core VM about 0.1 ms, and a cross-CPU wake-up on each side). The extended query protocol allows many
 * statements before one Sync: PostgreSQL runs them in order and, at the first error, skips the
 * rest up to the Sync — so a COMMIT after a statement that failed never runs, and the
 * transaction is left to roll back.
 *
 * Built on node-postgres's own Query (its `prepare` and `_getRows` steps, as pg-cursor builds on
 * them): the extra statements are unnamed — plain text, or a query with parameters before the
 * main one — and their results are the extra entries of the Query's result list (it keeps one
 * result per statement, as it does for a multi-statement simple query).
 */
import pg from 'pg';

interface QueryInternals {
  portal: string;
  prepare(connection: pg.Connection): void;
  _getRows(connection: pg.Connection, rows: number | undefined): void;
}

type Connection = pg.Connection & {
  parse(query: { text: string; name: string; types: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
  sync(): void;
};

/** A statement sent with another query: plain text (no parameters, no rows), or an unnamed query. */
export type Statement = string | pg.QueryConfig;

/** One unnamed statement without parameters, executed without describing its (absent) rows. */
function sendStatement(connection: Connection, text: string): void {
  connection.parse({ text, name: '', types: [] });
  connection.bind({ portal: '', statement: '', values: [] });
  connection.execute({ portal: '', rows: 0 });
}

/** One unnamed query with its parameters, through node-postgres's own steps but without the Sync. */
function sendQuery(connection: Connection, config: pg.QueryConfig): void {
  if (config.name) throw new Error(`a statement sent ahead of another must be unnamed (got "${config.name}")`);
  const query = new pg.Query(config) as unknown as QueryInternals;
  query._getRows = (c, rows) => (c as Connection).execute({ portal: query.portal, rows: rows ?? 0 });
  query.prepare(connection);
}

/**
 * node-postgres records a named statement as parsed when the first ParseComplete of its query
 * arrives — here the first statement's, not necessarily its own. Should the pipeline fail before
 * PostgreSQL parsed it, that record must go, or the next use would bind a statement that does not
 * exist. So the ParseCompletes are counted: the query's own is the one after the statements' ahead.
 */
class ParseWatch {
  #seen = 0;
  readonly #count = (): void => {
    this.#seen++;
  };

  readonly #connection: Connection & { parsedStatements: Record<string, string> };
  readonly #name: string;
  readonly #ahead: number;

  constructor(connection: Connection & { parsedStatements: Record<string, string> }, name: string, ahead: number) {
    this.#connection = connection;
    this.#name = name;
    this.#ahead = ahead;
    connection.on('parseComplete', this.#count);
  }

  /** The pipeline failed: forget the statement unless PostgreSQL parsed it. */
  failed(): void {
    this.done();
    if (this.#seen <= this.#ahead) delete this.#connection.parsedStatements[this.#name];
  }

  done(): void {
    this.#connection.off('parseComplete', this.#count);
  }
}

class PipelinedQuery extends pg.Query {
  before: readonly Statement[] = [];
  after: readonly string[] = [];
  #watch: ParseWatch | undefined;

  /** Always the extended protocol: a simple query could not share the Sync. */
  requiresPreparation(): boolean {
    return true;
  }

  prepare(connection: Connection): void {
    const self = this as unknown as { name?: string; hasBeenParsed(c: Connection): boolean };
    if (self.name && this.before.length && !self.hasBeenParsed(connection)) {
      this.#watch = new ParseWatch(connection as Connection & { parsedStatements: Record<string, string> }, self.name, this.before.length);
    }
    for (const statement of this.before) {
      if (typeof statement === 'string') sendStatement(connection, statement);
      else sendQuery(connection, statement);
    }
    (pg.Query.prototype as unknown as QueryInternals).prepare.call(this, connection);
  }

  _getRows(connection: Connection, rows: number | undefined): void {
    connection.execute({ portal: (this as unknown as QueryInternals).portal, rows: rows ?? 0 });
    for (const text of this.after) sendStatement(connection, text);
    connection.sync();
  }

  handleError(err: Error, connection: Connection): void {
    this.#watch?.failed();
    (pg.Query.prototype as unknown as { handleError(e: Error, c: Connection): void }).handleError.call(this, err, connection);
  }

  handleReadyForQuery(connection: Connection): void {
    this.#watch?.done();
    (pg.Query.prototype as unknown as { handleReadyForQuery(c: Connection): void }).handleReadyForQuery.call(this, connection);
  }
}

/** A PipelinedQuery that settles `resolve`/`reject` with every statement's result, in order. */
function pipelinedQuery(before: readonly Statement[], query: pg.QueryConfig, after: readonly string[], resolve: (results: pg.QueryResult[]) => void, reject: (err: unknown) => void): PipelinedQuery {
  const q = new PipelinedQuery(query);
  q.before = before;
  q.after = after;
  (q as unknown as { callback: (err: Error | null, results: unknown) => void }).callback = (err, results) => {
    if (err) return reject(err);
    const all = Array.isArray(results) ? (results as pg.QueryResult[]) : [results as pg.QueryResult];
    const expected = before.length + after.length + 1;
    if (all.length !== expected) return reject(new Error(`expected ${expected} results, got ${all.length}`));
    resolve(all);
  };
  return q;
}

/**
 * Runs `query` on `client` with `before` statements ahead of it and `after` statements behind it,
 * all in one round trip; resolves with every statement's result, in order. `query` must not page
 * its rows. At the first statement that fails, PostgreSQL skips the rest: the promise rejects
 * with that error.
 */
export function pipeline(client: pg.PoolClient, before: readonly Statement[], query: pg.QueryConfig, after: readonly string[]): Promise<pg.QueryResult[]> {
  return new Promise((resolve, reject) => {
    client.query(pipelinedQuery(before, query, after, resolve, reject));
  });
}

/** What pipelineBehind reads of node-postgres's Client (its own pipeline mode keeps the same state). */
interface ClientState {
  readyForQuery: boolean;
  _queryable: boolean;
  _ending: boolean;
  _queryQueue: unknown[];
  _types: unknown;
  connection: Connection;
}

/**
 * pipeline(), but written to the connection at once even while the client still waits for the
 * answer to the query it sent last — so the statements do not wait for that answer to travel to
 * the client and a turn of its event loop: PostgreSQL runs them as soon as it has run that query
 * (and, when it failed, refuses them: "current transaction is aborted"). node-postgres answers
 * queries in the order they were queued; this one is queued as sent already, to read its answers
 * after that query's. Only with nothing else queued (which it would overtake); otherwise, or on an
 * idle client, it is sent as pipeline() sends it.
 */
export function pipelineBehind(client: pg.PoolClient, before: readonly Statement[], query: pg.QueryConfig, after: readonly string[]): Promise<pg.QueryResult[]> {
  const state = client as unknown as ClientState;
  if (state.readyForQuery || state._queryQueue.length > 0 || !state._queryable || state._ending) return pipeline(client, before, query, after);
  return new Promise((resolve, reject) => {
    const q = pipelinedQuery(before, query, after, resolve, reject);
    const result = (q as unknown as { _result?: { _types?: unknown } })._result;
    if (result && !result._types) result._types = state._types; // as client.query does
    const submittable = q as unknown as { submit(connection: Connection): Error | null };
    const error = submittable.submit(state.connection);
    if (error) return reject(error);
    // Its turn comes when the query in flight is answered: then there is nothing more to send.
    submittable.submit = () => null;
    state._queryQueue.push(q);
  });
}
