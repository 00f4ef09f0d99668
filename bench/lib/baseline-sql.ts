/**
 * The physical baseline: the same operations as the server, done as raw SQL with `pg` against the
 * same embedded PostgreSQL, in a separate database created from the same migrations. It measures
 * the database work only: content JSON and search index rows (extractIndexRows) are computed
 * before timing, and each operation is the least SQL that leaves the same rows behind
 * (resource, history, index rows in every search_* table, outbox event). A server figure divided
 * by its baseline says how much the application layer (HTTP, JSON, validation, indexing, store
 * logic) costs on top of PostgreSQL.
 */
import type { Resource } from '@medplum/fhirtypes';
import pg from 'pg';
import { loadMigrations, migrate } from '../../src/db/migrate.ts';
import { withTransaction } from '../../src/db/pool.ts';
import { extractIndexRows, INDEX_TABLES } from '../../src/fhir/search/index-rows.ts';
import type { IndexRows, IndexTable } from '../../src/fhir/search/index-rows.ts';

// Timestamps stay text: the baseline should not spend time building Date objects the server does not build.
const rawTimestamp = (value: string) => value;

/** Per index table, its columns after (resource_type, resource_id) with their PostgreSQL types, in table order. */
type IndexColumns = Record<IndexTable, Array<[name: string, pgType: string]>>;

/** A resource ready to insert: final id, content JSON as it would be served, and its index rows. */
export interface BaselineVersion {
  resourceType: string;
  id: string;
  content: string;
  rows: IndexRows;
}

const ID = '\u0000ID\u0000';
const VERSION = '\u0000VERSION\u0000';
const UPDATED = '\u0000UPDATED\u0000';

/**
 * A resource serialised once with placeholders for id, meta.versionId and meta.lastUpdated, and
 * its index rows (which depend on none of those), so an insert or update needs only string
 * concatenation before its SQL.
 */
export class BaselineTemplate {
  readonly resourceType: string;
  readonly rows: IndexRows;
  private readonly parts: string[];

  constructor(resource: Resource) {
    this.resourceType = resource.resourceType;
    const { resourceType, ...rest } = resource;
    this.parts = JSON.stringify({ resourceType, id: ID, ...rest, meta: { ...rest.meta, versionId: VERSION, lastUpdated: UPDATED } }).split(/\\u0000(?:ID|VERSION|UPDATED)\\u0000/);
    if (this.parts.length !== 4) throw new Error('baseline template placeholders not found');
    this.rows = extractIndexRows({ ...resource, id: 'template', meta: { ...resource.meta, versionId: '1', lastUpdated: new Date().toISOString() } });
  }

  content(id: string, versionId: number, lastUpdated: string): string {
    return `${this.parts[0]}${id}${this.parts[1]}${versionId}${this.parts[2]}${lastUpdated}${this.parts[3]}`;
  }
}

function indexColumnsSql(columns: IndexColumns, table: IndexTable): string {
  return columns[table].map(([c]) => c).join(', ');
}

/** Inserts new resources (version 1), their index rows and create events, from arrays. */
function buildInsertSql(columns: IndexColumns): string {
  let n = 4;
  const ctes = [
    `input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS t(resource_type, id, content))`,
    `res AS (INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
       SELECT resource_type, id, 1, $4::timestamptz, false, content FROM input)`,
    `ev AS (INSERT INTO fhir_event (resource_type, resource_id, version_id, interaction, occurred_at)
       SELECT resource_type, id, 1, 'create', $4::timestamptz FROM input)`,
  ];
  for (const table of INDEX_TABLES) {
    const params = ['text', 'text', ...columns[table].map(([, t]) => t)].map((t) => `$${++n}::${t}[]`);
    ctes.push(`i_${table} AS (INSERT INTO search_${table} (resource_type, resource_id, ${indexColumnsSql(columns, table)}) SELECT * FROM unnest(${params.join(', ')}))`);
  }
  return `WITH ${ctes.join(',\n')}\nSELECT 1`;
}

/** Replaces one resource's current version (old one to history), its index rows, and appends an update event. */
function buildUpdateSql(columns: IndexColumns): string {
  let n = 5;
  const ctes = [
    `moved AS (INSERT INTO fhir_resource_history (resource_type, id, version_id, last_updated, deleted, content)
       SELECT resource_type, id, version_id, last_updated, deleted, content FROM fhir_resource WHERE resource_type = $1::text AND id = $2::text)`,
    `cur AS (UPDATE fhir_resource SET version_id = $3::int, last_updated = $4::timestamptz, deleted = false, content = $5::text
       WHERE resource_type = $1::text AND id = $2::text)`,
    `ev AS (INSERT INTO fhir_event (resource_type, resource_id, version_id, interaction, occurred_at) VALUES ($1::text, $2::text, $3::int, 'update', $4::timestamptz))`,
  ];
  for (const table of INDEX_TABLES) {
    ctes.push(`d_${table} AS (DELETE FROM search_${table} WHERE resource_type = $1::text AND resource_id = $2::text)`);
    const params = columns[table].map(([, t]) => `$${++n}::${t}[]`);
    ctes.push(`i_${table} AS (INSERT INTO search_${table} (resource_type, resource_id, ${indexColumnsSql(columns, table)}) SELECT $1::text, $2::text, * FROM unnest(${params.join(', ')}))`);
  }
  return `WITH ${ctes.join(',\n')}\nSELECT 1`;
}

const READ_SQL = `SELECT version_id, last_updated, deleted, content FROM fhir_resource WHERE resource_type = $1 AND id = $2`;
const LOCK_SQL = `SELECT version_id FROM fhir_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE`;

/** The index rows of one table as plain tuples, checked against the table's width. */
function tuples(rows: IndexRows, table: IndexTable, width: number): ReadonlyArray<readonly unknown[]> {
  const list = rows[table] as ReadonlyArray<readonly unknown[]>;
  for (const row of list) {
    if (row.length !== width) throw new Error(`index rows of search_${table} have ${row.length} values but the table has ${width} columns after (resource_type, resource_id)`);
  }
  return list;
}

/**
 * Reads the index tables' columns from the migrated schema, so the baseline follows the server's
 * migrations instead of a copy of them. extractIndexRows returns each row's values in table
 * column order (after resource_type, resource_id); `tuples` checks the widths agree.
 */
async function readIndexColumns(db: pg.Pool): Promise<IndexColumns> {
  const { rows } = await db.query<{ table_name: string; column_name: string; udt_name: string }>(
    `SELECT table_name, column_name, udt_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = ANY($1) AND column_name NOT IN ('resource_type', 'resource_id')
     ORDER BY table_name, ordinal_position`,
    [INDEX_TABLES.map((t) => `search_${t}`)],
  );
  const columns = Object.fromEntries(INDEX_TABLES.map((t) => [t, [] as Array<[string, string]>])) as IndexColumns;
  for (const r of rows) columns[r.table_name.slice('search_'.length) as IndexTable].push([r.column_name, r.udt_name]);
  const missing = INDEX_TABLES.filter((t) => columns[t].length === 0);
  if (missing.length) throw new Error(`the migrated schema has no table ${missing.map((t) => `search_${t}`).join(', ')}, which extractIndexRows writes`);
  return columns;
}

export class BaselineDb {
  readonly pool: pg.Pool;
  readonly database: string;
  private readonly columns: IndexColumns;
  private readonly insertSql: string;
  private readonly updateSql: string;

  private constructor(pool: pg.Pool, database: string, columns: IndexColumns) {
    this.pool = pool;
    this.database = database;
    this.columns = columns;
    this.insertSql = buildInsertSql(columns);
    this.updateSql = buildUpdateSql(columns);
  }

  /** Column arrays of the index rows of many resources, in the parameter order of the insert statement. */
  private insertValues(versions: readonly BaselineVersion[], lastUpdated: string): unknown[] {
    const values: unknown[] = [versions.map((v) => v.resourceType), versions.map((v) => v.id), versions.map((v) => v.content), lastUpdated];
    for (const table of INDEX_TABLES) {
      const width = this.columns[table].length;
      const columns: unknown[][] = Array.from({ length: width + 2 }, () => []);
      for (const v of versions) {
        for (const row of tuples(v.rows, table, width)) {
          columns[0]!.push(v.resourceType);
          columns[1]!.push(v.id);
          for (let c = 0; c < width; c++) columns[c + 2]!.push(row[c]);
        }
      }
      values.push(...columns);
    }
    return values;
  }

  private updateValues(resourceType: string, id: string, versionId: number, lastUpdated: string, content: string, rows: IndexRows): unknown[] {
    const values: unknown[] = [resourceType, id, versionId, lastUpdated, content];
    for (const table of INDEX_TABLES) {
      const width = this.columns[table].length;
      const list = tuples(rows, table, width);
      for (let c = 0; c < width; c++) values.push(list.map((row) => row[c]));
    }
    return values;
  }

  /** (Re)creates `database` on the server of `adminUrl` and applies the server's migrations to it. */
  static async create(adminUrl: string, database: string, poolSize: number): Promise<BaselineDb> {
    const admin = new pg.Client({ connectionString: adminUrl });
    admin.on('error', () => undefined); // a lost connection fails the pending query instead
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const pool = new pg.Pool({ connectionString: url.toString(), max: poolSize, application_name: 'carebridge-bench-baseline' });
    pool.on('error', () => undefined);
    await migrate(pool, await loadMigrations());
    return new BaselineDb(pool, database, await readIndexColumns(pool));
  }

  /** Inserts new resources in one autocommitted statement (a single create). */
  async insert(versions: readonly BaselineVersion[], lastUpdated: string): Promise<void> {
    await this.pool.query({ name: 'bl_insert', text: this.insertSql, values: this.insertValues(versions, lastUpdated) });
  }

  /** Inserts a bundle's resources in one explicit transaction (BEGIN, one statement, COMMIT). */
  async insertTransaction(versions: readonly BaselineVersion[], lastUpdated: string): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      await client.query({ name: 'bl_insert', text: this.insertSql, values: this.insertValues(versions, lastUpdated) });
    });
  }

  /** Reads the current version by primary key; the content JSON, or undefined when absent. */
  async read(resourceType: string, id: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ content: string | null }>({
      name: 'bl_read',
      text: READ_SQL,
      values: [resourceType, id],
      types: { getTypeParser: () => rawTimestamp },
    });
    return rows[0]?.content ?? undefined;
  }

  /** BEGIN; lock the current row (for its version); move it to history, write the new one and its index rows; COMMIT. */
  async update(id: string, template: BaselineTemplate, lastUpdated: string): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ version_id: number }>({ name: 'bl_lock', text: LOCK_SQL, values: [template.resourceType, id] });
      const current = rows[0];
      if (!current) throw new Error(`baseline update: ${template.resourceType}/${id} does not exist`);
      const versionId = current.version_id + 1;
      await client.query({ name: 'bl_update', text: this.updateSql, values: this.updateValues(template.resourceType, id, versionId, lastUpdated, template.content(id, versionId, lastUpdated), template.rows) });
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
