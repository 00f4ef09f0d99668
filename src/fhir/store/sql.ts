/**
 * The store's SQL statements, one function each, the client passed in.
 * Timestamps are returned as ISO 8601 text (the pool runs in UTC).
 */
import type { Queryable } from '../../db/pool.ts';
import type { EverythingQuery, HistoryQuery, StoredVersion } from './fhir-store.ts';
import { codesForTarget } from '../search/typed-references.ts';

const VERSION_COLUMNS = `resource_type, id, version_id, to_json(last_updated) #>> '{}' AS last_updated, deleted, content`;
/** The same columns from fhir_resource aliased `r`. */
export const R_VERSION_COLUMNS = `r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}' AS last_updated, r.deleted, r.content`;

interface VersionRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: string;
  deleted: boolean;
  content: string | null;
}

export function toStoredVersion(row: VersionRow): StoredVersion {
  return { resourceType: row.resource_type, id: row.id, versionId: row.version_id, lastUpdated: row.last_updated, deleted: row.deleted, content: row.content };
}

export async function selectCurrent(db: Queryable, resourceType: string, id: string): Promise<StoredVersion | undefined> {
  const { rows } = await db.query<VersionRow>({
    name: 'cb_select_current',
    text: `SELECT ${VERSION_COLUMNS} FROM fhir_resource WHERE resource_type = $1 AND id = $2`,
    values: [resourceType, id],
  });
  return rows[0] && toStoredVersion(rows[0]);
}

/** Locks the current rows of the given resources until the transaction ends; returns those that exist. */
export async function lockCurrent(db: Queryable, keys: ReadonlyArray<{ resourceType: string; id: string }>): Promise<Map<string, StoredVersion>> {
  const only = keys.length === 1 ? keys[0] : undefined;
  const { rows } = only
    ? // The common single-resource case as a primary-key lookup, whose cached plan is always right.
      await db.query<VersionRow>({
        name: 'cb_lock_one',
        text: `SELECT ${VERSION_COLUMNS} FROM fhir_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE`,
        values: [only.resourceType, only.id],
      })
    : await db.query<VersionRow>({
        name: 'cb_lock_many',
        text: `SELECT ${VERSION_COLUMNS} FROM fhir_resource r
               WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
               ORDER BY r.resource_type, r.id FOR UPDATE`,
        values: [keys.map((k) => k.resourceType), keys.map((k) => k.id)],
      });
  return new Map(rows.map((r) => [`${r.resource_type}/${r.id}`, toStoredVersion(r)]));
}

export async function selectVersion(db: Queryable, resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
  const { rows } = await db.query<VersionRow>({
    name: 'cb_select_version',
    text: `SELECT ${VERSION_COLUMNS} FROM fhir_resource WHERE resource_type = $1 AND id = $2 AND version_id = $3
           UNION ALL
           SELECT ${VERSION_COLUMNS} FROM fhir_resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
    values: [resourceType, id, versionId],
  });
  return rows[0] && toStoredVersion(rows[0]);
}

/** Several versions by (type, id, version) in one statement, one entry per key in order (undefined when there is no such version). */
export async function selectVersions(db: Queryable, keys: ReadonlyArray<{ resourceType: string; id: string; versionId: number }>): Promise<Array<StoredVersion | undefined>> {
  const { rows } = await db.query<VersionRow & { n: number }>({
    name: 'cb_select_versions',
    text: `SELECT k.n::int AS n, v.* FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS k(resource_type, id, version_id, n)
           CROSS JOIN LATERAL (
             SELECT ${VERSION_COLUMNS} FROM fhir_resource r WHERE r.resource_type = k.resource_type AND r.id = k.id AND r.version_id = k.version_id
             UNION ALL
             SELECT ${VERSION_COLUMNS} FROM fhir_resource_history h WHERE h.resource_type = k.resource_type AND h.id = k.id AND h.version_id = k.version_id
           ) v`,
    values: [keys.map((k) => k.resourceType), keys.map((k) => k.id), keys.map((k) => k.versionId)],
  });
  const out: Array<StoredVersion | undefined> = keys.map(() => undefined);
  for (const row of rows) out[row.n - 1] = toStoredVersion(row);
  return out;
}

/** A total order, the same in each branch and overall, so pages neither repeat nor skip versions with equal timestamps. */
const HISTORY_ORDER = 'last_updated DESC, resource_type, id, version_id DESC';

/** Versions newest first, across current and history tables, filtered by type/id/time window. */
export async function selectHistory(db: Queryable, q: HistoryQuery): Promise<StoredVersion[]> {
  const values: unknown[] = [];
  const conditions: string[] = [];
  const add = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  if (q.resourceType) conditions.push(`resource_type = ${add(q.resourceType)}`);
  if (q.id) conditions.push(`id = ${add(q.id)}`);
  if (q.since) conditions.push(`last_updated >= ${add(q.since)}::timestamptz`);
  if (q.till) conditions.push(`last_updated <= ${add(q.till)}::timestamptz`);
  const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
  // Each branch is limited too (in the same order), so the planner can walk the last_updated indexes backwards.
  const limit = add(q.count + q.offset);
  const { rows } = await db.query<VersionRow>(
    `SELECT resource_type, id, version_id, to_json(last_updated) #>> '{}' AS last_updated, deleted, content FROM (
       (SELECT * FROM fhir_resource ${where} ORDER BY ${HISTORY_ORDER} LIMIT ${limit})
       UNION ALL
       (SELECT * FROM fhir_resource_history ${where} ORDER BY ${HISTORY_ORDER} LIMIT ${limit})
     ) h
     ORDER BY ${HISTORY_ORDER}
     LIMIT ${add(q.count)} OFFSET ${add(q.offset)}`,
    values,
  );
  return rows.map(toStoredVersion);
}

type IdentifierLookup = { resourceType: string; system: string; value: string };

/**
 * Current resources by identifier, for many (type, system, value) at once: one list per lookup,
 * in order. The same as searching `identifier=system|value` for each (exact token match on the
 * token index, deleted resources excluded). The lookup is the SQL function cb_identifier_matches
 * (migration 0013).
 */
export async function selectByIdentifiers(db: Queryable, lookups: readonly IdentifierLookup[]): Promise<StoredVersion[][]> {
  // Unnamed, so each call is planned with its arrays and the tables as they are now: a cached
  // generic plan made on a nearly empty database scanned whole tables once they had grown.
  const { rows } = await db.query<VersionRow & { n: number }>(
    'SELECT * FROM cb_identifier_matches($1::text[], $2::text[], $3::text[])',
    [lookups.map((l) => l.resourceType), lookups.map((l) => l.system), lookups.map((l) => l.value)],
  );
  const out: StoredVersion[][] = lookups.map(() => []);
  for (const row of rows) out[row.n - 1]?.push(toStoredVersion(row));
  return out;
}

/**
 * A transaction's conditions resolved in one round trip (cb_resolve_conditions, migrations 0013
 * and 0019): the identifier lookups without locks; the rows it will write — the matches of
 * lookups `forWrite` and the `rows` named by id — locked and read again as locked; the advisory
 * locks of the lookups that found nothing (their `lockKey`) and of `otherKeys`, sorted; those
 * lookups again in a snapshot taken after the locks. Returns each lookup's matches, whether its
 * condition lock was taken and whether its matches are row-locked (then as locked: the newest
 * version, possibly deleted meanwhile); and the named rows that exist, as locked.
 */
export async function resolveConditions(
  db: Queryable,
  lookups: ReadonlyArray<IdentifierLookup & { lockKey: string; forWrite: boolean }>,
  otherKeys: readonly string[],
  rows: ReadonlyArray<{ resourceType: string; id: string }>,
): Promise<{ lookups: Array<{ matches: StoredVersion[]; locked: boolean; rowLocked: boolean }>; rows: StoredVersion[] }> {
  // Prepared: the call is all there is to plan here; the function keeps cached plans for its
  // lookups (migration 0016), made again when the statistics keeper analyses the tables.
  const result = await db.query<VersionRow & { n: number; pass: number; row_locked: boolean }>({
    name: 'cb_resolve_conditions',
    text: 'SELECT * FROM cb_resolve_conditions($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[], $8::text[])',
    values: [
      lookups.map((l) => l.resourceType),
      lookups.map((l) => l.system),
      lookups.map((l) => l.value),
      lookups.map((l) => l.lockKey),
      otherKeys,
      lookups.map((l) => l.forWrite),
      rows.map((r) => r.resourceType),
      rows.map((r) => r.id),
    ],
  });
  const out = { lookups: lookups.map(() => ({ matches: [] as StoredVersion[], locked: true, rowLocked: false })), rows: [] as StoredVersion[] };
  for (const row of result.rows) {
    if (row.n === 0) {
      out.rows.push(toStoredVersion(row));
      continue;
    }
    const entry = out.lookups[row.n - 1];
    if (!entry) continue;
    entry.matches.push(toStoredVersion(row));
    if (row.pass === 1) entry.locked = false;
    if (row.row_locked) entry.rowLocked = true;
  }
  return out;
}

/**
 * Current resources that refer to one target through a reference search parameter, for several
 * (type, parameter) pairs at once, optionally only those whose `status` token is one of
 * `statuses`. The same as searching `Type?param=Target/id(&status=…)` for each pair, unpaged.
 *
 * The status code is a literal so that PostgreSQL knows it is a frequent code and never drives the
 * lookup from the status values (which would read every Task with that status). Prepared: planning
 * it cost more than running it (0.5 against 0.1 ms). A generic plan made while the database was
 * nearly empty scans whole tables; it lasts until the tables are analysed, which the statistics
 * keeper (src/db/statistics-keeper.ts) does as they grow.
 */
export async function selectReferencing(
  db: Queryable,
  target: { resourceType: string; id: string },
  sources: ReadonlyArray<{ resourceType: string; param: string }>,
  statuses: readonly string[] | undefined,
): Promise<StoredVersion[]> {
  // A parameter restricted to one target type reads the rows of the one it restricts (typed-references.ts).
  const read = sources.flatMap((s) => codesForTarget(s.resourceType, [s.param], target.resourceType).map((param) => ({ resourceType: s.resourceType, param })));
  const { rows } = await db.query<VersionRow>({
    name: 'cb_select_referencing',
    text: `SELECT DISTINCT ON (r.resource_type, r.id) ${R_VERSION_COLUMNS}
             FROM unnest($1::text[], $2::text[]) AS c(resource_type, code)
             JOIN search_reference s ON s.resource_type = c.resource_type AND s.code = c.code AND s.target_id = $4 AND s.target_type = $3
             JOIN fhir_resource r ON r.resource_type = s.resource_type AND r.id = s.resource_id AND NOT r.deleted
            WHERE $5::text[] IS NULL
               OR EXISTS (SELECT 1 FROM search_token t WHERE t.resource_type = r.resource_type AND t.resource_id = r.id AND t.code = 'status' AND t.value = ANY($5::text[]))
            ORDER BY r.resource_type, r.id`,
    values: [read.map((s) => s.resourceType), read.map((s) => s.param), target.resourceType, target.id, statuses ?? null],
  });
  return rows.map(toStoredVersion);
}

/** Serialises concurrent conditional writes with the same condition until the transaction ends. */
export async function lockCondition(db: Queryable, key: string): Promise<void> {
  await db.query({ name: 'cb_lock_condition', text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', values: [key] });
}

/**
 * Patient/[id]/$everything: the patient, the members of its compartment (found through the
 * reverse reference index), and what those refer to; one keyset page ordered by (type, id).
 */
export async function selectEverything(db: Queryable, q: EverythingQuery): Promise<StoredVersion[]> {
  // Members refer to the Patient: a parameter restricted to Patient targets reads the rows of the one it restricts.
  const membership = q.membership.flatMap(([type, code]) => codesForTarget(type, [code], 'Patient').map((c) => [type, c] as const));
  const values: unknown[] = [q.patientId, membership.map((m) => m[0]), membership.map((m) => m[1])];
  const add = (v: unknown) => `$${values.push(v)}`;
  const filters: string[] = ['NOT r.deleted'];
  if (q.since) filters.push(`r.last_updated >= ${add(q.since)}::timestamptz`);
  if (q.types?.length) filters.push(`r.resource_type = ANY(${add(q.types)}::text[])`);
  if (q.after) filters.push(`(r.resource_type, r.id) > (${add(q.after[0])}, ${add(q.after[1])})`);
  const { rows } = await db.query<VersionRow>(
    `WITH members AS (
       SELECT 'Patient'::text AS resource_type, $1::text AS id
       UNION
       SELECT s.resource_type, s.resource_id FROM search_reference s
       JOIN unnest($2::text[], $3::text[]) AS m(resource_type, code) ON m.resource_type = s.resource_type AND m.code = s.code
       WHERE s.target_type = 'Patient' AND s.target_id = $1
     ), referenced AS (
       SELECT s.target_type AS resource_type, s.target_id AS id FROM search_reference s
       JOIN members m ON m.resource_type = s.resource_type AND m.id = s.resource_id
       WHERE s.target_type IS NOT NULL
     ), everything AS (SELECT * FROM members UNION SELECT * FROM referenced)
     SELECT ${R_VERSION_COLUMNS}
     FROM everything e JOIN fhir_resource r ON r.resource_type = e.resource_type AND r.id = e.id
     WHERE ${filters.join(' AND ')}
     ORDER BY r.resource_type, r.id
     LIMIT ${add(q.count + 1)}`,
    values,
  );
  return rows.map(toStoredVersion);
}
