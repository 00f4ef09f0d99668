// Database migrations: applied once under an advisory lock even when nodes start together, and
// the resulting schema matches the committed snapshot (STYLE.md rule 13: no unintended drift).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, migrationsApplied } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import type { Pool } from '../src/db/pool.ts';
import { createTestDatabase } from './helpers/database.ts';

let pools: Pool[] = [];
beforeAll(async () => {
  const url = await createTestDatabase();
  pools = [createPool(url, 4), createPool(url, 4), createPool(url, 4)];
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

describe('migrate', () => {
  it('applies every migration exactly once when three nodes start at the same time', async () => {
    const all = await loadMigrations();
    const results = await Promise.all(pools.map((p) => migrate(p)));
    expect(results.flat().sort((a, b) => a - b)).toEqual(all.map((m) => m.version));
    const { rows } = await pools[0]!.query('SELECT version FROM schema_migration ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(all.map((m) => m.version));
    expect(await migrationsApplied(pools[0]!, all.length)).toBe(true);
    expect(await migrate(pools[1]!)).toEqual([]);
  });

  it('rolls back a failing migration and names it', async () => {
    const url = await createTestDatabase();
    const pool = createPool(url, 2);
    try {
      const bad = [{ version: 1, name: 'broken', sql: 'CREATE TABLE t (a int); SELECT no_such_function();' }];
      await expect(migrate(pool, bad)).rejects.toThrow(/migration 1_broken failed/);
      const { rows } = await pool.query("SELECT to_regclass('t') AS t, (SELECT count(*)::int FROM schema_migration) AS n");
      expect(rows[0]).toEqual({ t: null, n: 0 });
    } finally {
      await pool.end();
    }
  });

  it('produces the committed schema', async () => {
    const client = pools[0] as pg.Pool;
    const columns = await client.query(
      `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    const indexes = await client.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`);
    // Functions with their settings (the lookups' forced generic plans are part of their contract).
    const functions = await client.query(
      `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || l.lanname || ' ' || p.provolatile::text || coalesce(' ' || array_to_string(p.proconfig, ' '), '') AS f
         FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1`,
    );
    const schema = [
      ...columns.rows.map((r) => `${r.table_name}.${r.column_name} ${r.data_type}${r.is_nullable === 'NO' ? ' NOT NULL' : ''}`),
      ...indexes.rows.map((r) => r.indexdef),
      ...functions.rows.map((r) => r.f),
    ].join('\n');
    expect(schema).toMatchSnapshot();
  });

  it('keeps the token MCV list short enough to plan with cheaply', async () => {
    // 2,000 (type, code, value) combinations cost 1.3 ms of planning per token filter (migration 0011).
    const { rows } = await pools[0]!.query<{ name: string; kinds: string; target: number | null }>(
      `SELECT stxname AS name, array_to_string(stxkind, '') AS kinds, stxstattarget AS target FROM pg_statistic_ext WHERE stxname = 'search_token_stats'`,
    );
    expect(rows).toEqual([{ name: 'search_token_stats', kinds: 'fm', target: 200 }]);
  });
});
