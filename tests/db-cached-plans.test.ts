// The conditional-write lookups (cb_resolve_conditions) use cached generic plans (migration
// 0016), made on a new database for empty tables. Their shape and settings (migration 0022) keep
// even that plan to index scans driven by each lookup — such a plan once scanned whole tables in
// nested loops, and a call was caught running for over a minute — and the statistics keeper's
// ANALYZE makes PostgreSQL plan them again for the grown tables: index probes. The HL7 log start
// (cb_hl7_begin) likewise.
// Real PostgreSQL, synthetic rows; the work a call does is read off EXPLAIN (ANALYZE, BUFFERS).
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.ts';
import { createPool } from '../src/db/pool.ts';
import type { Pool } from '../src/db/pool.ts';
import { StatisticsKeeper } from '../src/db/statistics-keeper.ts';
import { createTestDatabase } from './helpers/database.ts';
import { until } from './helpers/wait.ts';

let url: string;
let pool: Pool;

beforeAll(async () => {
  url = await createTestDatabase();
  pool = createPool(url, 4);
  await migrate(pool);
});
afterAll(async () => {
  await pool.end();
});

const RESOLVE = 'SELECT * FROM cb_resolve_conditions($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::text[])';
const LOOKUPS: unknown[] = [
  ['Observation', 'Patient', 'Patient', 'Observation'],
  ['urn:obs', 'urn:oid:2.16.156.10011.1.3', 'urn:mrn', 'urn:obs'],
  ['obs-17', 'p-5', 'p-6', 'obs-none'],
  ['k1', 'k2', 'k3', 'k4'],
  [],
  // One match to be written, and one row named by id: locked and read again (primary-key probes).
  [false, true, false, false],
  ['Patient'],
  ['Patient-7'],
];

/** Runs the lookups on `client`'s session; returns what they found and the shared buffers they touched. */
async function resolve(client: pg.Client): Promise<{ found: Array<[number, string]>; buffers: number }> {
  const found = await client.query<{ n: number; id: string }>(`${RESOLVE} ORDER BY 1`, LOOKUPS);
  const { rows } = await client.query<Record<string, string>>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ${RESOLVE}`, LOOKUPS);
  const buffers = Number(/Buffers: shared hit=(\d+)/.exec(rows.map((r) => r['QUERY PLAN']).join('\n'))?.[1] ?? 0);
  return { found: found.rows.map((r) => [r.n, r.id]), buffers };
}

describe('cached plans of the condition lookups', () => {
  it('scan no whole table with the plan made for empty tables, and probe the indexes once the statistics keeper has analysed the grown ones', async () => {
    const { rows } = await pool.query<{ config: string[] }>(`SELECT proconfig AS config FROM pg_proc WHERE proname = 'cb_resolve_conditions'`);
    expect(rows[0]!.config).toEqual(['plan_cache_mode=force_generic_plan', 'enable_seqscan=off']);

    const session = new pg.Client({ connectionString: url });
    await session.connect();
    try {
      // A server's first message on a new database: the plans are made, and cached, for empty tables.
      expect((await resolve(session)).found).toEqual([]);

      // The database grows: 2,000 Observations with an identifier each, 200 Patients with two.
      await pool.query(`
        INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
        SELECT 'Observation', 'Observation-' || g, 1, now(), false, '{}' FROM generate_series(1, 2000) g
        UNION ALL SELECT 'Patient', 'Patient-' || g, 1, now(), false, '{}' FROM generate_series(1, 200) g`);
      await pool.query(`
        INSERT INTO search_token (resource_type, resource_id, code, system, value)
        SELECT 'Observation', 'Observation-' || g, 'identifier', 'urn:obs', 'obs-' || g FROM generate_series(1, 2000) g
        UNION ALL SELECT 'Observation', 'Observation-' || g, 'code', 'http://loinc.org', '8867-4' FROM generate_series(1, 2000) g
        UNION ALL SELECT 'Patient', 'Patient-' || g, 'identifier', s, 'p-' || g FROM generate_series(1, 200) g, (VALUES ('urn:mrn'), ('urn:oid:2.16.156.10011.1.3')) v(s)`);
      const expected = [[0, 'Patient-7'], [1, 'Observation-17'], [2, 'Patient-5'], [3, 'Patient-6']];

      // Through the plans made for empty tables: index scans driven by each lookup, at worst over
      // the lookup type's index entries (12,185 pages here) — before migration 0022, whole-table
      // scans inside nested loops (313,712 pages), which grew with the square of the tables.
      const stale = await resolve(session);
      expect(stale.found).toEqual(expected);
      expect(stale.buffers).toBeLessThan(30_000);

      const keeper = new StatisticsKeeper({ pool, logger: pino({ level: 'silent' }) });
      // The two tables' changes may reach the statistics in different passes: collect across them.
      const analysed = new Set<string>();
      await until('the keeper to analyse search_token and fhir_resource', async () => {
        for (const name of await keeper.runOnce()) analysed.add(name);
        return analysed.has('public.search_token') && analysed.has('public.fhir_resource');
      }, 10_000, 200);

      // Planned again from the statistics: still a few index pages per lookup.
      const fresh = await resolve(session);
      expect(fresh.found).toEqual(expected);
      expect(fresh.buffers).toBeLessThan(100);
    } finally {
      await session.end();
    }
  });

  it('the HL7 log start (cb_hl7_begin) uses its cached plan too: index probes, planned on an empty log or after the keeper analysed a full one', async () => {
    const { rows } = await pool.query<{ config: string[] }>(`SELECT proconfig AS config FROM pg_proc WHERE proname = 'cb_hl7_begin'`);
    expect(rows[0]!.config).toEqual(['plan_cache_mode=force_generic_plan']);
    const BEGIN = `SELECT * FROM cb_hl7_begin(NULL, 'APP', 'FAC', $1, $2)`;
    const session = new pg.Client({ connectionString: url });
    await session.connect();
    const begin = async (controlId: string, patientKey: string) => {
      await session.query('BEGIN');
      try {
        const found = await session.query<{ duplicate_id: string | null; earlier_pending: boolean | null }>(BEGIN, [controlId, patientKey]);
        const { rows: plan } = await session.query<Record<string, string>>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ${BEGIN}`, [controlId, patientKey]);
        const buffers = Number(/Buffers: shared hit=(\d+)/.exec(plan.map((r) => r['QUERY PLAN']).join('\n'))?.[1] ?? 0);
        return { ...found.rows[0]!, buffers };
      } finally {
        await session.query('ROLLBACK');
      }
    };
    try {
      // Planned, and cached, on an empty log.
      expect(await begin('c-1', 'pk-1')).toMatchObject({ duplicate_id: null, earlier_pending: false });
      // The log grows: 20,000 processed messages with sizeable raw bytes, one still pending.
      await pool.query(`
        INSERT INTO hl7_message (sender_application, sender_facility, control_id, raw, status, patient_key)
        SELECT 'APP', 'FAC', 'm-' || g, convert_to(repeat('PID|' || g || '|', 60), 'UTF8'), CASE WHEN g = 77 THEN 'received' ELSE 'processed' END, 'pk-' || g
          FROM generate_series(1, 20000) g`);
      const check = async () => {
        const duplicate = await begin('m-500', 'pk-500');
        expect(duplicate.duplicate_id).not.toBeNull();
        const pending = await begin('c-2', 'pk-77');
        expect(pending).toMatchObject({ duplicate_id: null, earlier_pending: true });
        // A few index pages each, not a scan of the log (about 900 pages).
        expect(duplicate.buffers).toBeLessThan(20);
        expect(pending.buffers).toBeLessThan(20);
      };
      // With the plan made for the empty log (the unique and the partial index are the only ways
      // to answer them cheaply, even then)…
      await check();
      // …and once the keeper's ANALYZE has made PostgreSQL plan it again.
      const keeper = new StatisticsKeeper({ pool, logger: pino({ level: 'silent' }) });
      await until('the keeper to analyse hl7_message', async () => (await keeper.runOnce()).includes('public.hl7_message'), 10_000, 200);
      await check();
    } finally {
      await session.end();
    }
  });
});
