/**
 * FhirStore on PostgreSQL. Every write validates the resource, stamps meta.versionId and
 * meta.lastUpdated, and goes through writeVersions (resource, history, index rows and outbox
 * event in one statement). Updates and deletes lock the current row first, so concurrent writers
 * to one resource queue up and every write becomes its own version; none is lost.
 */
import { newResourceId } from './resource-id.ts';
import { deepEquals } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { answersCheckedAtCommit, withTransaction } from '../../db/pool.ts';
import type { Pool, PoolClient, Queryable } from '../../db/pool.ts';
import { errors, FhirError } from '../errors.ts';
import { emptyIndexRows, extractIndexRows, parseRelativeReference } from '../search/index-rows.ts';
import { parseSearchQuery } from '../search/search-query.ts';
import type { Cursor, SearchQuery, SearchResult } from '../search/search-query.ts';
import { resolveIncludes } from '../search/includes.ts';
import { withImpliedFilters } from '../search/implied-filters.ts';
import { searchCountSql, searchIdsSql, searchPageSql } from '../search/search-sql.ts';
import { listDriver, searchPlannedPageSql, WALK_LIMITS, walkCandidate, walkFirst, walkProbeSql } from '../search/walk-sql.ts';
import type { PagePlan, WalkLimits } from '../search/walk-sql.ts';
import { isResourceType, searchParamsFor } from '../definitions.ts';
import { isValidId, validate } from '../validation.ts';
import type { CreateOptions, DeleteOptions, EverythingQuery, FhirStore, HistoryQuery, PlannedWrite, StoredVersion, UpdateOptions, WriteOutcome } from './fhir-store.ts';
import { lockCondition, lockCurrent, resolveConditions, selectByIdentifiers, selectCurrent, selectReferencing, selectEverything, selectHistory, selectVersion, selectVersions, toStoredVersion } from './sql.ts';
import type { PendingVersion } from './write-versions.ts';
import { writeVersions } from './write-versions.ts';

/** PostgreSQL errors worth retrying the whole transaction for. */
const RETRYABLE = new Set(['40001', '40P01', '23505']);
const MAX_ATTEMPTS = 5;

/** Whether a failed transaction may succeed when run again: serialization failure (writeVersions reports a write race as one), deadlock, unique violation. */
export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has((err as { code?: string }).code ?? '');
}

function assertType(resourceType: string): void {
  if (!isResourceType(resourceType)) throw errors.unknownType(resourceType);
}

function withMeta(resource: Resource, id: string, versionId: number, lastUpdated: string): Resource {
  return { ...resource, id, meta: { ...resource.meta, versionId: String(versionId), lastUpdated } };
}

function withoutServerMeta(resource: Resource): Resource {
  const { versionId: _v, lastUpdated: _l, ...meta } = resource.meta ?? {};
  const copy = { ...resource, meta } as Resource;
  if (Object.keys(meta).length === 0) delete copy.meta;
  return copy;
}

/** The validation error of the first invalid resource among `writes`, labelled; undefined when all are valid. */
function firstInvalid(writes: ReadonlyArray<{ resource: Resource; label: string }>): unknown {
  for (const w of writes) {
    try {
      validate(w.resource);
    } catch (err) {
      return labelled(err, w.label);
    }
  }
  return undefined;
}

/** A new version ready to write: content stamped, index rows extracted. */
export function prepareVersion(resource: Resource, id: string, current: StoredVersion | undefined, lastUpdated: string): PendingVersion {
  const versionId = (current?.versionId ?? 0) + 1;
  const stamped = withMeta(resource, id, versionId, lastUpdated);
  return {
    resourceType: resource.resourceType,
    id,
    versionId,
    lastUpdated,
    deleted: false,
    content: JSON.stringify(stamped),
    isNew: !current,
    interaction: !current || current.deleted ? 'create' : 'update',
    rows: extractIndexRows(stamped),
  };
}

export function prepareDelete(current: StoredVersion, lastUpdated: string): PendingVersion {
  return {
    resourceType: current.resourceType,
    id: current.id,
    versionId: current.versionId + 1,
    lastUpdated,
    deleted: true,
    content: null,
    isNew: false,
    interaction: 'delete',
    rows: emptyIndexRows(),
  };
}

/** True when `resource` says the same as the stored version, server-set meta aside. */
export function isUnchanged(resource: Resource, current: StoredVersion): boolean {
  if (current.deleted || current.content === null) return false;
  return deepEquals(withoutServerMeta(resource), withoutServerMeta(JSON.parse(current.content) as Resource));
}

export function storedFromPending(v: PendingVersion): StoredVersion {
  return { resourceType: v.resourceType, id: v.id, versionId: v.versionId, lastUpdated: v.lastUpdated, deleted: v.deleted, content: v.content };
}

/** The same error, its message prefixed with where it happened (a Bundle entry). */
export function labelled(err: unknown, label: string): unknown {
  if (!(err instanceof FhirError) || !label) return err;
  const issues = (err.outcome.issue ?? []).map((i) => ({ ...i, details: { ...i.details, text: `${label}: ${i.details?.text ?? i.diagnostics ?? ''}` } }));
  return new FhirError({ ...err.outcome, issue: issues });
}

const one = (outcomes: WriteOutcome[]): WriteOutcome => outcomes[0] as WriteOutcome;

/** `Type/id`: how a resource's row is keyed in the maps of what a transaction holds. */
const rowKey = (row: { resourceType: string; id: string }): string => `${row.resourceType}/${row.id}`;

/** The resource a planned write targets. */
const targetOf = (w: PlannedWrite): { resourceType: string; id: string } => (w.kind === 'delete' ? w : w.resource);

/**
 * `identifier=system|value` with nothing else (no modifier, one value, both parts): the one
 * condition shape lockConditions resolves in bulk. Parsed like any search, so what it accepts
 * means exactly what the search would.
 */
export function plainIdentifierCondition(resourceType: string, params: URLSearchParams): { resourceType: string; system: string; value: string } | undefined {
  if ([...params.keys()].length !== 1 || !params.has('identifier')) return undefined;
  let query: SearchQuery;
  try {
    query = parseSearchQuery(resourceType, params, true);
  } catch {
    return undefined; // findConditional reports the error
  }
  const filter = query.filters[0];
  if (query.filters.length !== 1 || filter?.kind !== 'param' || filter.type !== 'token' || filter.modifier !== undefined || filter.values.length !== 1) return undefined;
  const [system, value] = filter.values[0]!.parts;
  if (filter.values[0]!.parts.length !== 2 || !system || !value) return undefined;
  return { resourceType, system, value };
}

/** Canonical key of a conditional write, for the advisory lock. */
function conditionKey(resourceType: string, params: URLSearchParams): string {
  return `${resourceType}?${[...params].map(([k, v]) => `${k}=${v}`).sort().join('&')}`;
}

export interface PgFhirStoreOptions {
  /**
   * Called after a commit with the resource types it wrote (a typed after-commit event: the
   * store does not know who listens). Must not throw.
   */
  afterCommit?: (resourceTypes: ReadonlySet<string>) => Promise<void>;
  /**
   * Rules of the modules built on the store for what clients may write (e.g. a Subscription's
   * status); throws a FhirError to refuse. Called after validation, with the current version's
   * resource for updates. Not called for deletes.
   */
  checkWrite?: (resource: Resource, current: Resource | undefined) => void;
  /** When id-ordered pages are walked or listed instead of planned (search/walk-sql.ts); WALK_LIMITS by default. */
  searchWalk?: WalkLimits;
}

export class PgFhirStore implements FhirStore {
  private readonly pool: Pool | undefined;
  private readonly db: Queryable;
  private readonly options: PgFhirStoreOptions;
  /** In a transaction: the resource types written so far. */
  private readonly written: Set<string> | undefined;
  /** In a transaction: condition keys whose advisory lock this transaction holds (held until it ends). */
  private readonly locked = new Set<string>();
  /**
   * In a transaction: answers to `identifier=system|value` conditions looked up together by
   * lockConditions, valid until this transaction writes anything (applyWrites clears them).
   */
  private readonly prefetched = new Map<string, StoredVersion[]>();
  /**
   * In a transaction: the current version of every row it holds locked (FOR UPDATE, by
   * lockConditions or applyWrites), as of the lock or of its own last write — no one else can
   * change them before it ends, so writing them again needs no new lock and no read. Undefined:
   * the row did not exist when asked for (nothing to lock, as with lockCurrent), or the caller
   * said it does not (expectAbsent).
   */
  private readonly rowLocked = new Map<string, StoredVersion | undefined>();

  /** With a pool: the store for the application. With a client: a store bound to its open transaction. */
  constructor(poolOrClient: Pool | PoolClient, options: PgFhirStoreOptions = {}, written?: Set<string>) {
    this.db = poolOrClient;
    this.pool = written ? undefined : (poolOrClient as Pool);
    this.options = options;
    this.written = written;
  }

  async findByIdentifiers(lookups: ReadonlyArray<{ resourceType: string; system: string; value: string }>): Promise<StoredVersion[][]> {
    for (const l of lookups) assertType(l.resourceType);
    return lookups.length ? selectByIdentifiers(this.db, lookups) : [];
  }

  async findReferencing(target: string, sources: ReadonlyArray<{ resourceType: string; param: string }>, statuses?: readonly string[]): Promise<StoredVersion[]> {
    // Read as a search's reference value is (search-sql.ts referenceCondition).
    const relative = parseRelativeReference(target);
    if (!relative || !isResourceType(relative.type)) throw errors.invalidSearch(`"${target}" is not a Type/id reference`);
    for (const s of sources) {
      assertType(s.resourceType);
      if (searchParamsFor(s.resourceType).get(s.param)?.type !== 'reference') throw errors.invalidSearch(`${s.param} is not a reference search parameter of ${s.resourceType}`);
    }
    if (!sources.length || statuses?.length === 0) return [];
    return selectReferencing(this.db, { resourceType: relative.type, id: relative.id }, sources, statuses);
  }

  /**
   * Prepares conditions for findConditional, with as little locking as is safe. The advisory lock
   * on a condition exists to stop two transactions from both finding nothing and both creating a
   * resource; when a condition already matches, updates of that resource are serialised by its
   * row lock instead. So plain `identifier=system|value` conditions are first looked up together
   * without locks; only those that match nothing (and every other condition) are locked, sorted,
   * and the unmatched ones looked up again under the lock, in a new snapshot that sees whatever a
   * transaction we waited for committed. The rows the transaction will write — the matches of
   * conditions `forWrite` (a conditional update or delete) and the `rows` it names by id — are
   * locked and read as well, which applyWrites would otherwise do in a round trip of its own. All
   * in one round trip: a database function whose statements each take their own snapshot
   * (migrations 0013, 0019). Rows alone are no reason for that round trip: when every condition
   * is resolved already, applyWrites locks them, while it prepares the new resources.
   */
  async lockConditions(conditions: ReadonlyArray<{ resourceType: string; params: URLSearchParams; forWrite?: boolean }>, rows: ReadonlyArray<{ resourceType: string; id: string }> = []): Promise<void> {
    if (this.pool) throw new Error('lockConditions must run inside a transaction');
    const lookups = new Map<string, { resourceType: string; system: string; value: string; lockKey: string; forWrite: boolean }>();
    const others = new Set<string>();
    for (const c of conditions) {
      const key = conditionKey(c.resourceType, c.params);
      if (this.locked.has(key) || this.prefetched.has(key)) continue;
      const identifier = plainIdentifierCondition(c.resourceType, c.params);
      if (identifier) lookups.set(key, { ...identifier, lockKey: key, forWrite: c.forWrite === true || lookups.get(key)?.forWrite === true });
      else others.add(key);
    }
    // Rows named by id ride along with conditions to resolve; by themselves they are left to
    // applyWrites, which locks them while it prepares the new resources.
    if (!lookups.size && !others.size) return;
    const toLock = new Map<string, { resourceType: string; id: string }>();
    for (const r of rows) {
      assertType(r.resourceType);
      if (!this.rowLocked.has(rowKey(r))) toLock.set(rowKey(r), { resourceType: r.resourceType, id: r.id });
    }
    // One round trip (sql.ts resolveConditions): look up, lock the rows to be written, lock the
    // unmatched conditions and the others, look the unmatched up again after the locks.
    const resolved = await resolveConditions(this.db, [...lookups.values()], [...others], [...toLock.values()]);
    // A named row that does not exist has nothing to lock: known to be absent, as lockCurrent would find it.
    for (const key of toLock.keys()) this.rowLocked.set(key, undefined);
    for (const v of resolved.rows) this.rowLocked.set(rowKey(v), v);
    [...lookups.keys()].forEach((key, i) => {
      const { matches, locked, rowLocked } = resolved.lookups[i]!;
      if (rowLocked) for (const m of matches) this.rowLocked.set(rowKey(m), m);
      const live = matches.filter((m) => !m.deleted);
      // Every match was deleted while its row lock was awaited: the condition is left unresolved,
      // for findConditional to lock and search.
      if (matches.length && !live.length) return;
      this.prefetched.set(key, live);
      if (locked) this.locked.add(key);
    });
    for (const key of others) this.locked.add(key);
  }

  expectAbsent(rows: ReadonlyArray<{ resourceType: string; id: string }>): void {
    if (this.pool) throw new Error('expectAbsent must run inside a transaction');
    for (const r of rows) {
      assertType(r.resourceType);
      if (!this.rowLocked.has(rowKey(r))) this.rowLocked.set(rowKey(r), undefined);
    }
  }

  async transaction<T>(fn: (store: FhirStore) => Promise<T>): Promise<T> {
    if (!this.pool) return fn(this);
    let written = new Set<string>();
    // withTransaction sends BEGIN with the first statement (db/pool.ts).
    const result = await withTransaction(
      this.pool,
      (client) => {
        written = new Set<string>();
        return fn(new PgFhirStore(client, this.options, written));
      },
      { retryIf: isRetryable, attempts: MAX_ATTEMPTS },
    );
    if (written.size) await this.options.afterCommit?.(written);
    return result;
  }

  async read(resourceType: string, id: string): Promise<StoredVersion> {
    assertType(resourceType);
    if (!isValidId(id)) throw errors.notFound(resourceType, id);
    const current = await selectCurrent(this.db, resourceType, id);
    if (!current) throw errors.notFound(resourceType, id);
    if (current.deleted) throw errors.deleted(resourceType, id, current.versionId);
    return current;
  }

  async vread(resourceType: string, id: string, versionId: string): Promise<StoredVersion> {
    assertType(resourceType);
    if (!isValidId(id) || !/^[1-9]\d{0,8}$/.test(versionId)) throw errors.notFound(resourceType, id, versionId);
    const version = await selectVersion(this.db, resourceType, id, Number(versionId));
    if (!version) throw errors.notFound(resourceType, id, versionId);
    if (version.deleted) throw errors.deleted(resourceType, id, version.versionId);
    return version;
  }

  async vreadMany(keys: ReadonlyArray<{ resourceType: string; id: string; versionId: number }>): Promise<Array<StoredVersion | undefined>> {
    for (const k of keys) assertType(k.resourceType);
    return keys.length ? selectVersions(this.db, keys) : [];
  }

  async create(resource: Resource, options: CreateOptions = {}): Promise<WriteOutcome> {
    const withId = { ...resource, id: newResourceId() };
    if (!options.ifNoneExist) {
      // A fresh id cannot collide: one autocommitted statement is enough.
      validate(withId);
      this.options.checkWrite?.(withId, undefined);
      const pending = prepareVersion(withId, withId.id, undefined, new Date().toISOString());
      await writeVersions(this.db, [pending]);
      if (this.written) this.written.add(withId.resourceType);
      else await this.options.afterCommit?.(new Set([withId.resourceType]));
      return { outcome: 'created', version: storedFromPending(pending) };
    }
    const ifNoneExist = options.ifNoneExist;
    return this.transaction(async (tx) => {
      const existing = await tx.findConditional(resource.resourceType, ifNoneExist, 'If-None-Exist');
      if (existing) return { outcome: 'existing', version: existing };
      return one(await tx.applyWrites([{ kind: 'create', resource: withId, label: '' }]));
    });
  }

  async findConditional(resourceType: string, params: URLSearchParams, what: string): Promise<StoredVersion | undefined> {
    if (this.pool) throw new Error('findConditional must run inside a transaction');
    const key = conditionKey(resourceType, params);
    // Answered by lockConditions, which parsed the condition (plainIdentifierCondition) already.
    const known = this.prefetched.get(key);
    if (known) {
      if (known.length > 1) throw errors.multipleMatches(`${what} ${resourceType}?${params}`, known.length);
      return known[0];
    }
    const query = parseSearchQuery(resourceType, params, true);
    if (query.filters.length === 0) throw errors.invalidSearch(`${what} needs at least one search parameter`);
    if (!this.locked.has(key)) {
      await lockCondition(this.db, key);
      this.locked.add(key);
    }
    query.count = 2;
    query.offset = 0;
    query.total = 'none';
    const result = await this.search(query);
    if (result.versions.length > 1) throw errors.multipleMatches(`${what} ${resourceType}?${params}`, result.versions.length);
    return result.versions[0];
  }

  async update(resource: Resource, options: UpdateOptions = {}): Promise<WriteOutcome> {
    if (!isValidId(resource.id)) throw errors.invalidId(String(resource.id ?? ''));
    const write: PlannedWrite = { kind: 'update', resource: resource as Resource & { id: string }, ifMatch: options.ifMatch, label: '' };
    return this.transaction(async (tx) => one(await tx.applyWrites([write])));
  }

  async delete(resourceType: string, id: string, options: DeleteOptions = {}): Promise<WriteOutcome> {
    assertType(resourceType);
    if (!isValidId(id)) throw errors.notFound(resourceType, id);
    const write: PlannedWrite = { kind: 'delete', resourceType, id, ifMatch: options.ifMatch, label: '' };
    return this.transaction(async (tx) => one(await tx.applyWrites([write])));
  }

  async applyWrites(writes: readonly PlannedWrite[]): Promise<WriteOutcome[]> {
    if (this.pool) throw new Error('applyWrites must run inside a transaction');
    if (writes.length) this.prefetched.clear();
    const keyOf = (w: PlannedWrite) => rowKey(targetOf(w));
    const seen = new Set<string>();
    for (const w of writes) {
      const key = keyOf(w);
      if (seen.has(key)) throw errors.invalidBundle(`${w.label}: ${key} is the target of more than one entry`);
      seen.add(key);
    }
    const keys = writes.filter((w) => w.kind !== 'create').map(targetOf);
    let lastUpdated = new Date().toISOString();
    // Rows this transaction has locked already (lockConditions, an earlier write) are not read again.
    const toLock = keys.filter((k) => !this.rowLocked.has(rowKey(k)));
    const locking = toLock.length ? lockCurrent(this.db, toLock) : undefined;
    // While PostgreSQL locks the rows being replaced, the new resources (which wait for nothing)
    // are prepared: their index rows and content. Any that fails is planned again below, in
    // order, where its error is reported.
    const prepared = new Map<PlannedWrite, PendingVersion>();
    if (locking) {
      for (const w of writes) {
        if (w.kind !== 'create') continue;
        try {
          prepared.set(w, prepareVersion(w.resource, w.resource.id, undefined, lastUpdated));
        } catch {
          // planned again below
        }
      }
    }
    if (locking) {
      const found = await locking;
      for (const k of toLock) this.rowLocked.set(rowKey(k), found.get(rowKey(k)));
    }
    const current = new Map<string, StoredVersion>();
    for (const k of keys) {
      const version = this.rowLocked.get(rowKey(k));
      if (version) current.set(rowKey(k), version);
    }
    // A lock waited for may have let in a version written after our timestamp: versions of one
    // resource must follow in time, so take a new one (and prepare again).
    const stamp = Date.parse(lastUpdated);
    if ([...current.values()].some((c) => Date.parse(c.lastUpdated) >= stamp)) {
      lastUpdated = new Date(Math.max(Date.now(), ...[...current.values()].map((c) => Date.parse(c.lastUpdated) + 1))).toISOString();
      prepared.clear();
    }
    const pending: PendingVersion[] = [];
    const toValidate: Array<Extract<PlannedWrite, { resource: Resource }>> = [];
    const outcomes: WriteOutcome[] = writes.map((w) => {
      try {
        return this.planOne(w, current.get(keyOf(w)), lastUpdated, pending, toValidate, prepared.get(w));
      } catch (err) {
        // The first failing write in the given order is reported, as when each was validated first.
        throw firstInvalid(toValidate) ?? labelled(err, w.label);
      }
    });
    // Validation runs while PostgreSQL executes the write: the CPU of the one and the other
    // overlap instead of following each other (validation is the write path's largest cost in
    // Node.js, the statement its largest in PostgreSQL). The write is inside this transaction, so
    // an invalid resource still changes nothing: the error makes the caller roll back (every
    // caller of applyWrites does — see FhirStore.applyWrites).
    const write = writeVersions(this.db, pending).then(
      () => undefined,
      (err: unknown) => err,
    );
    const invalid = firstInvalid(toValidate);
    // An invalid resource is reported as such, whatever the database made of it.
    if (invalid) {
      await write;
      throw invalid;
    }
    // In a transaction that checks every statement at its commit (db/pool.ts), the write's answer
    // need not be awaited: the caller goes on (an HL7 message builds its ACK) while PostgreSQL
    // writes, and its last statement and COMMIT are sent behind the write. The statement checks
    // its own counts; a failure fails the commit, or the next statement, which report it.
    if (this.pool || !answersCheckedAtCommit(this.db as PoolClient)) {
      const failed = await write;
      if (failed) throw failed;
    }
    for (const v of pending) {
      this.written?.add(v.resourceType);
      this.rowLocked.set(rowKey(v), storedFromPending(v));
    }
    return outcomes;
  }

  /**
   * Plans one write: version checks, the new version and its index rows (`prepared` already, for
   * a create prepared while the rows being replaced were locked). Validation of a created
   * or changed resource is left to the caller (`toValidate`), except when planning fails: then the
   * resource is validated first, so that an invalid resource gets a validation error rather than
   * whatever its invalid shape broke.
   */
  private planOne(
    w: PlannedWrite,
    current: StoredVersion | undefined,
    lastUpdated: string,
    pending: PendingVersion[],
    toValidate: Array<Extract<PlannedWrite, { resource: Resource }>>,
    prepared: PendingVersion | undefined,
  ): WriteOutcome {
    if (w.kind === 'delete') {
      assertType(w.resourceType);
      if (!current) throw errors.notFound(w.resourceType, w.id);
      if (w.ifMatch !== undefined && current.versionId !== w.ifMatch) throw errors.versionConflict(w.resourceType, w.id, String(w.ifMatch), current.versionId);
      if (current.deleted) return { outcome: 'unchanged', version: current };
      const version = prepareDelete(current, lastUpdated);
      pending.push(version);
      return { outcome: 'deleted', version: storedFromPending(version) };
    }
    if (w.kind === 'update') {
      if (w.ifMatch !== undefined && current?.versionId !== w.ifMatch) {
        throw errors.versionConflict(w.resource.resourceType, w.resource.id, String(w.ifMatch), current?.versionId ?? 0);
      }
      // Equal to the stored version, which was valid and allowed when written: nothing to check
      // (HL7 messages repeat most of a patient's resources; validation is the write path's
      // largest CPU cost).
      if (current && isUnchanged(w.resource, current)) return { outcome: 'unchanged', version: current };
    }
    let version: PendingVersion;
    try {
      if (this.options.checkWrite) this.options.checkWrite(w.resource, current && !current.deleted && current.content ? (JSON.parse(current.content) as Resource) : undefined);
      version = prepared ?? prepareVersion(w.resource, w.resource.id, current, lastUpdated);
    } catch (err) {
      validate(w.resource);
      throw err;
    }
    pending.push(version);
    toValidate.push(w);
    return { outcome: version.interaction === 'create' ? 'created' : 'updated', version: storedFromPending(version) };
  }

  async search(asked: SearchQuery): Promise<SearchResult> {
    const query = withImpliedFilters(asked);
    const countOnly = query.summary === 'count' || query.count === 0;
    let versions: StoredVersion[] = [];
    let next: Cursor | undefined;
    let previous: Cursor | undefined;
    if (!countOnly) {
      const rows = (await this.plannedPage(query)) ?? (await this.db.query<Record<string, string | null>>(searchPageSql(query))).rows;
      const more = rows.length > query.count;
      const pageRows = rows.slice(0, query.count);
      if (query.cursor?.direction === 'previous') pageRows.reverse();
      versions = pageRows.map((r) => toStoredVersion(r as never));
      const cursorOf = (row: Record<string, string | null>, direction: Cursor['direction']): Cursor => ({
        direction,
        values: query.sort.map((_, i) => row[`sort_${i}`] ?? null),
        id: row.id as string,
      });
      const first = pageRows[0];
      const last = pageRows[pageRows.length - 1];
      const backwards = query.cursor?.direction === 'previous';
      if (last && (backwards ? query.cursor !== undefined : more)) next = cursorOf(last, 'next');
      if (first && (backwards ? more : query.cursor !== undefined)) previous = cursorOf(first, 'previous');
    }
    let total: number | undefined;
    if (query.total === 'accurate' || (countOnly && query.total !== 'estimate' && query.total !== 'none')) {
      const count = searchCountSql(query);
      const { rows } = await this.db.query<{ total: number }>(count.text, count.values);
      total = rows[0]?.total ?? 0;
    } else if (query.total === 'estimate') {
      total = await this.estimate(query);
    } else if (query.total !== 'none' && !next && !previous && !query.cursor && query.offset === 0) {
      total = versions.length; // the whole result is on this page: known without counting
    }
    const { included, warnings } = query.include.length && versions.length ? await resolveIncludes(this.db, query.include, versions) : { included: [], warnings: [] };
    return { versions, included, total, next, previous, warnings };
  }

  /**
   * The page by walking ids or listing the most selective filter's, as the probe decides
   * (search/walk-sql.ts explains why the server decides this, not the planner); undefined when
   * neither suits (a walk that fell short and nothing to list): then the planner's plan.
   */
  private async plannedPage(query: SearchQuery): Promise<Array<Record<string, string | null>> | undefined> {
    if (!walkCandidate(query)) return undefined;
    const limits = this.options.searchWalk ?? WALK_LIMITS;
    const probe = async (upTo: number) => Object.values((await this.db.query<Record<string, number>>(walkProbeSql(query, upTo))).rows[0] ?? {});
    const page = async (plan: PagePlan) => (await this.db.query<Record<string, string | null>>(searchPlannedPageSql(query, plan, limits))).rows;
    let counts = await probe(limits.walkFrom);
    if (walkFirst(counts, limits)) {
      const rows = await page({ kind: 'walk' });
      if (rows.length > query.count) return rows;
      counts = await probe(limits.listUpTo);
    }
    const driver = listDriver(query, counts, limits);
    return driver ? page({ kind: 'list', driver }) : undefined;
  }

  async matchingIds(query: SearchQuery): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(searchIdsSql(query));
    return rows.map((r) => r.id);
  }

  /** `_total=estimate`: the planner's row estimate, cheap at any size. */
  private async estimate(query: SearchQuery): Promise<number> {
    const count = searchCountSql(query);
    const { rows } = await this.db.query<{ 'QUERY PLAN': Array<{ Plan: { Plans?: Array<{ 'Plan Rows': number }>; 'Plan Rows': number } }> }>(
      `EXPLAIN (FORMAT JSON) ${count.text.replace('SELECT count(*)::int AS total', 'SELECT 1')}`,
      count.values,
    );
    return Math.round(rows[0]?.['QUERY PLAN'][0]?.Plan['Plan Rows'] ?? 0);
  }

  async everything(query: EverythingQuery): Promise<StoredVersion[]> {
    await this.read('Patient', query.patientId); // 404 / 410 for an unknown or deleted patient
    return selectEverything(this.db, query);
  }

  async history(query: HistoryQuery): Promise<StoredVersion[]> {
    if (query.resourceType) assertType(query.resourceType);
    return selectHistory(this.db, query);
  }
}
