// The statistics keeper analyses tables that changed a lot since their last analysis (on a new
// database: before autovacuum's first look), leaves settled ones alone, and its ANALYZE makes
// PostgreSQL plan cached (prepared) statements again. Real PostgreSQL; autovacuum is switched off
// on the test tables so that only the keeper analyses them.
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.ts';
import type { Pool } from '../src/db/pool.ts';
import { StatisticsKeeper } from '../src/db/statistics-keeper.ts';
import { createTestDatabase } from './helpers/database.ts';
import { until } from './helpers/wait.ts';

let url: string;
let pool: Pool;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  url = await createTestDatabase();
  pool = createPool(url, 4);
});
afterAll(async () => {
  await pool.end();
});

async function table(name: string, rows: number): Promise<void> {
  await pool.query(`CREATE TABLE ${name} (k text, a int, PRIMARY KEY (k, a)) WITH (autovacuum_enabled = false)`);
  if (rows) await pool.query(`INSERT INTO ${name} SELECT 'k' || (g % 50), g FROM generate_series(1, $1) g`, [rows]);
}

async function stats(relname: string): Promise<{ analysed: boolean; tuples: number; changed: number }> {
  const { rows } = await pool.query<{ analysed: boolean; tuples: number; changed: string }>(
    `SELECT last_analyze IS NOT NULL AS analysed, (SELECT reltuples FROM pg_class WHERE oid = relid)::float8 AS tuples, n_mod_since_analyze AS changed
       FROM pg_stat_user_tables WHERE relname = $1`,
    [relname],
  );
  const row = rows[0]!;
  return { analysed: row.analysed, tuples: row.tuples, changed: Number(row.changed) };
}

/** Table statistics reach pg_stat_user_tables when a backend reports them (within about a second). */
async function reported(relname: string, changed: number): Promise<void> {
  await until(`${changed} changes of ${relname} reported`, async () => (await stats(relname)).changed >= changed, 10_000, 100);
}

describe('StatisticsKeeper', () => {
  it('analyses a new table that grew, including a table whose name needs quoting', async () => {
    await table('keeper_grown', 2_000);
    await table('"Keeper Odd"', 800);
    await reported('keeper_grown', 2_000);
    await reported('Keeper Odd', 800);
    const keeper = new StatisticsKeeper({ pool, logger });
    const analysed = await keeper.runOnce();
    expect(analysed).toEqual(expect.arrayContaining(['public.keeper_grown', 'public."Keeper Odd"']));
    expect(await stats('keeper_grown')).toMatchObject({ analysed: true, tuples: 2_000 });
    expect(await stats('Keeper Odd')).toMatchObject({ analysed: true, tuples: 800 });
    // Nothing changed since: a second pass leaves them alone.
    expect(await keeper.runOnce()).not.toEqual(expect.arrayContaining(['public.keeper_grown']));
  });

  it('leaves a table alone until it changed by both the minimum rows and the fraction of its size', async () => {
    await table('keeper_settled', 10_000);
    await reported('keeper_settled', 10_000);
    const keeper = new StatisticsKeeper({ pool, logger, minRows: 500, fraction: 0.2 });
    expect(await keeper.runOnce()).toContain('public.keeper_settled');
    // 1,000 new rows: over the minimum, but only 10 % of the table.
    await pool.query(`INSERT INTO keeper_settled SELECT 'n', g FROM generate_series(1, 1000) g`);
    await reported('keeper_settled', 1_000);
    expect(await keeper.runOnce()).not.toContain('public.keeper_settled');
    // 2,500 in all: a quarter of it.
    await pool.query(`INSERT INTO keeper_settled SELECT 'n', g FROM generate_series(1001, 2500) g`);
    await reported('keeper_settled', 2_500);
    expect(await keeper.runOnce()).toContain('public.keeper_settled');
    expect((await stats('keeper_settled')).tuples).toBe(12_500);
    // A small table: 100 changes are 100 % of it, but under the minimum.
    await table('keeper_small', 100);
    await reported('keeper_small', 100);
    expect(await keeper.runOnce()).not.toContain('public.keeper_small');
    // A big table (12,500 rows when last analysed, over maxRows) is autovacuum's, however much it changes.
    await pool.query(`INSERT INTO keeper_settled SELECT 'm', g FROM generate_series(1, 5000) g`);
    await reported('keeper_settled', 5_000);
    expect(await new StatisticsKeeper({ pool, logger, maxRows: 10_000 }).runOnce()).not.toContain('public.keeper_settled');
    expect(await keeper.runOnce()).toContain('public.keeper_settled');
  });

  it('leaves tables whose autovacuum was tuned (queues) to autovacuum', async () => {
    await table('keeper_queue', 2_000);
    await pool.query('ALTER TABLE keeper_queue SET (autovacuum_vacuum_threshold = 1000)');
    await table('keeper_fillfactor', 2_000);
    await pool.query('ALTER TABLE keeper_fillfactor SET (fillfactor = 90)');
    await reported('keeper_queue', 2_000);
    await reported('keeper_fillfactor', 2_000);
    const analysed = await new StatisticsKeeper({ pool, logger }).runOnce();
    expect(analysed).not.toContain('public.keeper_queue');
    expect(analysed).toContain('public.keeper_fillfactor');
  });

  it('makes a prepared statement planned for an empty table be planned again for its new size', async () => {
    await table('keeper_plans', 0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // Five runs make PostgreSQL cache a generic plan, made for the empty table.
      const run = () => client.query({ name: 'keeper_probe', text: 'SELECT count(*) FROM keeper_plans WHERE k = $1', values: ['k1'] });
      for (let i = 0; i < 6; i++) await run();
      const plan = async () => (await client.query(`EXPLAIN EXECUTE keeper_probe('k1')`)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      const before = await plan();
      await pool.query(`INSERT INTO keeper_plans SELECT 'k' || g, g FROM generate_series(1, 20000) g`);
      await reported('keeper_plans', 20_000);
      expect(await plan()).toBe(before); // the cached plan does not notice the growth
      expect(await new StatisticsKeeper({ pool, logger }).runOnce()).toContain('public.keeper_plans');
      const after = await plan();
      expect(after).not.toBe(before);
      expect(after).toMatch(/rows=1\b/); // estimated from the new statistics: one row of 20,000 has k = 'k1'
    } finally {
      await client.end();
    }
  });

  it('runs on a timer after start() and stops cleanly', async () => {
    await table('keeper_timer', 1_000);
    await reported('keeper_timer', 1_000);
    const keeper = new StatisticsKeeper({ pool, logger, intervalMs: 50 });
    keeper.start();
    try {
      await until('the keeper to analyse keeper_timer', async () => (await stats('keeper_timer')).analysed, 10_000, 50);
    } finally {
      await keeper.stop();
    }
  });
});
