/**
 * Writes a batch of new versions in ONE SQL statement: the previous current versions move to
 * history, the new ones become current, their search index rows are replaced, and one outbox
 * event per version is appended. A single statement is atomic on its own, and inside a
 * transaction it costs one round trip however many resources a Bundle carries.
 */
import { arrayParam } from '../../db/array-param.ts';
import type { Queryable } from '../../db/pool.ts';
import type { IndexRows, IndexTable } from '../search/index-rows.ts';
import { INDEX_TABLES } from '../search/index-rows.ts';
import type { Interaction } from './fhir-store.ts';

export interface PendingVersion {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  content: string | null;
  /** True when no row exists for this resource yet (checked under lock by the caller). */
  isNew: boolean;
  interaction: Interaction;
  /** Index rows of the new version; empty for deletes. */
  rows: IndexRows;
}

export const INDEX_COLUMNS: Record<IndexTable, Array<[name: string, pgType: string]>> = {
  token: [['code', 'text'], ['system', 'text'], ['value', 'text'], ['display', 'text'], ['type', 'text']],
  string: [['code', 'text'], ['value', 'text'], ['raw', 'text']],
  date: [['code', 'text'], ['low', 'timestamptz'], ['high', 'timestamptz']],
  number: [['code', 'text'], ['low', 'numeric'], ['high', 'numeric']],
  quantity: [['code', 'text'], ['system', 'text'], ['unit', 'text'], ['value', 'numeric'], ['canonical_unit', 'text'], ['canonical_value', 'numeric']],
  reference: [['code', 'text'], ['target_type', 'text'], ['target_id', 'text'], ['reference', 'text']],
  uri: [['code', 'text'], ['value', 'text']],
  composite: [['code', 'text'], ['c1_system', 'text'], ['c1_value', 'text'], ['c2_system', 'text'], ['c2_value', 'text'], ['c2_number', 'numeric'], ['c2_low', 'timestamptz'], ['c2_high', 'timestamptz']],
};

/**
 * The statement for a batch. With `replaces` false (every version is a new resource) it only
 * inserts: no history to move, no index rows to delete, no joins, so its cached plan is right
 * at any table size. With `replaces` true it also moves existing rows to history and replaces
 * the index rows that changed.
 */
function buildSql(replaces: boolean): string {
  let n = 8;
  const ctes = [
    `input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::bool[], $6::text[], $7::bool[], $8::text[])
       AS t(resource_type, id, version_id, last_updated, deleted, content, is_new, interaction))`,
    `inserted AS (INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT resource_type, id, version_id, last_updated, deleted, content FROM input WHERE is_new RETURNING 1)`,
  ];
  if (replaces) {
    ctes.push(
      `moved AS (INSERT INTO fhir_resource_history (resource_type, id, version_id, last_updated, deleted, content)
       SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.deleted, r.content
       FROM fhir_resource r JOIN input i ON i.resource_type = r.resource_type AND i.id = r.id WHERE NOT i.is_new)`,
      `updated AS (UPDATE fhir_resource r SET version_id = i.version_id, last_updated = i.last_updated, deleted = i.deleted, content = i.content
       FROM input i WHERE NOT i.is_new AND r.resource_type = i.resource_type AND r.id = i.id RETURNING 1)`,
    );
  }
  for (const table of INDEX_TABLES) {
    const cols = INDEX_COLUMNS[table];
    const names = cols.map(([c]) => c);
    const params = ['text', 'text', ...cols.map(([, t]) => t)].map((t) => `$${++n}::${t}[]`);
    if (!replaces) {
      ctes.push(`ins_${table} AS (INSERT INTO search_${table} (resource_type, resource_id, ${names.join(', ')})
       SELECT * FROM unnest(${params.join(', ')}))`);
      continue;
    }
    // An update keeps the index rows its new version shares with the one it replaces: only the
    // rows that changed are deleted and inserted. (A resource updated by an HL7 message usually
    // changes a value or two; rewriting every row cost a deletion, a heap tuple and two or three
    // index entries each, in WAL and vacuum.) Both statements see the rows as they were before
    // this one, so a kept row is neither deleted nor inserted again.
    const same = (a: string, b: string) => [`${a}.resource_type = ${b}.resource_type`, `${a}.resource_id = ${b}.resource_id`, ...names.map((c) => `${a}.${c} IS NOT DISTINCT FROM ${b}.${c}`)].join(' AND ');
    ctes.push(
      `new_${table} AS (SELECT * FROM unnest(${params.join(', ')}) AS v(resource_type, resource_id, ${names.join(', ')}))`,
      `del_${table} AS (DELETE FROM search_${table} s USING input i
       WHERE NOT i.is_new AND s.resource_type = i.resource_type AND s.resource_id = i.id
         AND NOT EXISTS (SELECT 1 FROM new_${table} v WHERE ${same('v', 's')}))`,
      `ins_${table} AS (INSERT INTO search_${table} (resource_type, resource_id, ${names.join(', ')})
       SELECT * FROM new_${table} v WHERE NOT EXISTS (SELECT 1 FROM search_${table} s WHERE ${same('s', 'v')}))`,
    );
  }
  ctes.push(`events AS (INSERT INTO fhir_event (resource_type, resource_id, version_id, interaction, occurred_at)
       SELECT resource_type, id, version_id, interaction, last_updated FROM input)`);
  const updated = replaces ? '(SELECT count(*) FROM updated)::int' : '0';
  // The statement checks its own counts (migration 0021): it fails unless it inserted and updated
  // as many rows as the caller planned ($n+1, $n+2).
  return `WITH ${ctes.join(',\n')}
SELECT cb_check_written((SELECT count(*) FROM inserted)::int, ${updated}, $${n + 1}::int, $${n + 2}::int)`;
}

const INSERT_VERSIONS_SQL = buildSql(false);
const WRITE_VERSIONS_SQL = buildSql(true);

/** Index rows of current versions, rewritten without a new version ($reindex). */
export interface IndexRewrite {
  resourceType: string;
  id: string;
  rows: IndexRows;
}

function indexParams(entries: ReadonlyArray<{ resourceType: string; id: string; rows: IndexRows }>): unknown[][] {
  const values: unknown[][] = [];
  for (const table of INDEX_TABLES) {
    const width = INDEX_COLUMNS[table].length;
    const columns: unknown[][] = Array.from({ length: width + 2 }, () => []);
    for (const v of entries) {
      for (const row of v.rows[table]) {
        columns[0]!.push(v.resourceType);
        columns[1]!.push(v.id);
        for (let c = 0; c < width; c++) columns[c + 2]!.push(row[c]);
      }
    }
    values.push(...columns);
  }
  return values;
}

function buildRewriteSql(): string {
  let n = 2;
  const ctes = ['input AS (SELECT * FROM unnest($1::text[], $2::text[]) AS t(resource_type, id))'];
  for (const table of INDEX_TABLES) {
    const cols = INDEX_COLUMNS[table];
    ctes.push(`del_${table} AS (DELETE FROM search_${table} s USING input i WHERE s.resource_type = i.resource_type AND s.resource_id = i.id)`);
    const params = ['text', 'text', ...cols.map(([, t]) => t)].map((t) => `$${++n}::${t}[]`);
    ctes.push(`ins_${table} AS (INSERT INTO search_${table} (resource_type, resource_id, ${cols.map(([c]) => c).join(', ')}) SELECT * FROM unnest(${params.join(', ')}))`);
  }
  return `WITH ${ctes.join(',\n')}\nSELECT count(*)::int AS n FROM input`;
}

const REWRITE_INDEX_SQL = buildRewriteSql();

/** Replaces the index rows of the given resources in one statement (the caller holds their row locks). */
export async function rewriteIndexRows(db: Queryable, entries: readonly IndexRewrite[]): Promise<void> {
  if (entries.length === 0) return;
  // Encoded as the write statement's are (array-param.ts): $reindex sends batches of any size.
  const values = [entries.map((e) => e.resourceType), entries.map((e) => e.id), ...indexParams(entries)].map(arrayParam);
  // Unnamed: $reindex runs seldom, on batches of any size and tables of any size — planned for each.
  await db.query(REWRITE_INDEX_SQL, values);
}

/**
 * Writes the versions in one statement, which fails (serialization_failure, retried with the
 * transaction) unless it inserted the new resources and updated the others: a version the caller
 * believed current that was not is a bug or a race outside a lock.
 */
export async function writeVersions(db: Queryable, versions: readonly PendingVersion[]): Promise<void> {
  if (versions.length === 0) return;
  const arrays: unknown[][] = [
    versions.map((v) => v.resourceType),
    versions.map((v) => v.id),
    versions.map((v) => v.versionId),
    versions.map((v) => v.lastUpdated),
    versions.map((v) => v.deleted),
    versions.map((v) => v.content),
    versions.map((v) => v.isNew),
    versions.map((v) => v.interaction),
    ...indexParams(versions),
  ];
  // Every resource's JSON and all its index values: sent as literals built in one pass (array-param.ts).
  const values: unknown[] = arrays.map(arrayParam);
  const inserts = versions.filter((v) => v.isNew).length;
  values.push(inserts, versions.length - inserts);
  // Both prepared once per connection. The one that replaces rows joins every search table: its
  // generic plan, made while the tables were small, once scanned each of them on every update
  // (found by the benchmark) — the statistics keeper (src/db/statistics-keeper.ts) now analyses
  // the tables as they grow, which makes PostgreSQL plan it again for their size.
  if (inserts === versions.length) await db.query({ name: 'cb_insert_versions', text: INSERT_VERSIONS_SQL, values });
  else await db.query({ name: 'cb_write_versions', text: WRITE_VERSIONS_SQL, values });
}
