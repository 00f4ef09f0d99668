/**
 * Watches the pool's clients while a function runs: round trips to PostgreSQL (by the
 * ReadyForQuery messages it sends — one per round trip) and the statements executed in each (by
 * the Bind messages sent: a named statement's name, else the first words of its text).
 */
import type { Pool, PoolClient } from '../../src/db/pool.ts';

interface Watched {
  roundTrips: number;
  /** Every statement bound, in order, on whichever client. */
  statements: string[];
  /** The same statements' full text and the values bound to them (to EXPLAIN them, say). */
  bound: Array<{ text: string; values: unknown[] }>;
  /** Per client taken from the pool: the statements of each round trip. */
  clients: string[][][];
}

type Connection = NodeJS.EventEmitter & {
  parse(q: { text: string; name?: string }): void;
  bind(q: { statement?: string; values?: unknown[] }): void;
  /** node-postgres's record of the named statements parsed on the connection: name → text. */
  parsedStatements: Record<string, string>;
};

export async function watchQueries(pool: Pool, fn: () => Promise<unknown>): Promise<Watched> {
  const watched: Watched = { roundTrips: 0, statements: [], bound: [], clients: [] };
  const restore: Array<() => void> = [];
  const listen = (client: PoolClient) => {
    const connection = (client as unknown as { connection: Connection }).connection;
    const trips: string[][] = [[]];
    watched.clients.push(trips);
    const count = () => {
      watched.roundTrips++;
      trips.push([]);
    };
    connection.on('readyForQuery', count);
    // The text of the unnamed statement being bound is the one parsed just before it.
    let lastUnnamed = '';
    const parsing: Record<string, string> = {};
    const { parse, bind } = connection;
    connection.parse = (q) => {
      if (q.name) parsing[q.name] = q.text;
      else lastUnnamed = q.text;
      parse.call(connection, q);
    };
    connection.bind = (q) => {
      const text = q.statement ? (parsing[q.statement] ?? connection.parsedStatements[q.statement] ?? '') : lastUnnamed;
      watched.bound.push({ text, values: q.values ?? [] });
      const statement = q.statement || lastUnnamed.trim().split(/\s+/).slice(0, 3).join(' ');
      watched.statements.push(statement);
      trips[trips.length - 1]!.push(statement);
      bind.call(connection, q);
    };
    restore.push(() => {
      connection.off('readyForQuery', count);
      connection.parse = parse;
      connection.bind = bind;
      // Statements sent behind one in flight (pipelineBehind) leave their answer's ReadyForQuery after it.
      while (trips.length && !trips[trips.length - 1]!.length) trips.pop();
    });
  };
  pool.on('acquire', listen);
  try {
    await fn();
  } finally {
    pool.off('acquire', listen);
    for (const r of restore) r();
  }
  return watched;
}

/** Round trips the pool's clients make while `fn` runs (on whichever clients it takes from the pool). */
export async function countRoundTrips(pool: Pool, fn: () => Promise<unknown>): Promise<number> {
  return (await watchQueries(pool, fn)).roundTrips;
}
