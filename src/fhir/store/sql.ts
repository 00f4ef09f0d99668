/**
 * The store's SQL statements, one function each, the client passed in.
 * Timestamps are returned as ISO 8601 text (the pool runs in UTC).
 */
import type { Queryable } from '../../db/pool.ts';
import type { HistoryQuery, StoredVersion } from './fhir-store.ts';

const VERSION_COLUMNS = `resource_type, id, version_id, to_json(last_updated) #>> '{}' AS last_updated, deleted, content`;

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
  const { rows } = await db.query<VersionRow>({
    name: 'cb_lock_current',
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

/** Serialises concurrent conditional writes with the same condition until the transaction ends. */
export async function lockCondition(db: Queryable, key: string): Promise<void> {
  await db.query({ name: 'cb_lock_condition', text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', values: [key] });
}
