/**
 * A query sent together with statements before and after it, in one round trip: BEGIN before the
 * first statement of a transaction, COMMIT after its last. node-postgres sends one query at a
 * time and waits for its answer; each wait is a round trip through the kernel (on a 2-core VM
 * about 0.1 ms, and a cross-CPU wake-up on each side). The extended query protocol allows many
 * statements before one Sync: PostgreSQL runs them in order and, at the first error, skips the
 * rest up to the Sync — so a COMMIT after a statement that failed never runs, and the
 * transaction is left to roll back.
 *
 * Built on node-postgres's own Query (its `prepare` and `_getRows` steps, as pg-cursor builds on
 * them): the extra statements are unnamed and take no parameters, and their results are the
 * extra entries of the Query's result list (it keeps one result per statement, as it does for a
 * multi-statement simple query).
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

/** One unnamed statement without parameters, executed without describing its (absent) rows. */
function sendStatement(connection: Connection, text: string): void {
  connection.parse({ text, name: '', types: [] });
  connection.bind({ portal: '', statement: '', values: [] });
  connection.execute({ portal: '', rows: 0 });
}

class PipelinedQuery extends pg.Query {
  before: readonly string[] = [];
  after: readonly string[] = [];

  /** Always the extended protocol: a simple query could not share the Sync. */
  requiresPreparation(): boolean {
    return true;
  }

  prepare(connection: Connection): void {
    for (const text of this.before) sendStatement(connection, text);
    (pg.Query.prototype as unknown as QueryInternals).prepare.call(this, connection);
  }

  _getRows(connection: Connection, rows: number | undefined): void {
    connection.execute({ portal: (this as unknown as QueryInternals).portal, rows: rows ?? 0 });
    for (const text of this.after) sendStatement(connection, text);
    connection.sync();
  }
}

/**
 * Runs `query` on `client` with `before` statements ahead of it and `after` statements behind it,
 * all in one round trip; resolves with the query's own result. `query` must not page its rows.
 */
export function queryWith<R extends pg.QueryResultRow>(client: pg.PoolClient, before: readonly string[], query: pg.QueryConfig, after: readonly string[]): Promise<pg.QueryResult<R>> {
  return new Promise((resolve, reject) => {
    const q = new PipelinedQuery(query);
    q.before = before;
    q.after = after;
    (q as unknown as { callback: (err: Error | null, results: unknown) => void }).callback = (err, results) => {
      if (err) return reject(err);
      const all = Array.isArray(results) ? (results as Array<pg.QueryResult<R>>) : [results as pg.QueryResult<R>];
      const own = all[before.length];
      if (!own) return reject(new Error(`expected ${before.length + after.length + 1} results, got ${all.length}`));
      resolve(own);
    };
    client.query(q);
  });
}
