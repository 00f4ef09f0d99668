/**
 * The FHIR store interface: what the REST layer, the HL7 adapters and the workers may ask of
 * storage. The PostgreSQL implementation is PgFhirStore.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { SearchQuery, SearchResult } from '../search/search-query.ts';

/** One stored version, with the JSON exactly as served (null for a delete). */
export interface StoredVersion {
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  content: string | null;
}

export type Interaction = 'create' | 'update' | 'delete';

export interface WriteOutcome {
  /** What happened: a new resource, a new version, a delete, or nothing (conditional create matched, or an update changed nothing). */
  outcome: 'created' | 'updated' | 'deleted' | 'unchanged' | 'existing';
  version: StoredVersion;
}

export interface CreateOptions {
  /** Conditional create (If-None-Exist): a search query; when one resource matches, it is returned unchanged. */
  ifNoneExist?: URLSearchParams | undefined;
}

export interface UpdateOptions {
  /** If-Match: the version the client last saw. */
  ifMatch?: number | undefined;
}

export interface DeleteOptions {
  ifMatch?: number | undefined;
}

export interface HistoryQuery {
  resourceType?: string;
  id?: string;
  /** Only versions updated at or after this instant (`_since`). */
  since?: string;
  /** Only versions updated at or before this instant (`_at`-style upper bound used to keep paging stable). */
  till?: string;
  count: number;
  offset: number;
}

/** One write of a bulk write (a transaction Bundle's entries, planned with their ids). */
export type PlannedWrite =
  | { kind: 'create'; resource: Resource & { id: string }; label: string }
  | { kind: 'update'; resource: Resource & { id: string }; ifMatch?: number | undefined; label: string }
  | { kind: 'delete'; resourceType: string; id: string; ifMatch?: number | undefined; label: string };

/** Patient/[id]/$everything, one page. */
export interface EverythingQuery {
  patientId: string;
  /** (resource type, reference parameter) pairs that put a resource in the Patient compartment. */
  membership: Array<[string, string]>;
  since: string | undefined;
  types: string[] | undefined;
  count: number;
  /** Keyset position: the last (type, id) of the previous page. */
  after: [string, string] | undefined;
}

export interface FhirStore {
  read(resourceType: string, id: string): Promise<StoredVersion>;
  vread(resourceType: string, id: string, versionId: string): Promise<StoredVersion>;
  /**
   * Several versions at once, in one statement: one entry per key, in order — the version (a
   * delete's too, with null content) or undefined when it does not exist. For readers of many
   * known versions (subscription deliveries), not a REST interaction.
   */
  vreadMany(keys: ReadonlyArray<{ resourceType: string; id: string; versionId: number }>): Promise<Array<StoredVersion | undefined>>;
  create(resource: Resource, options?: CreateOptions): Promise<WriteOutcome>;
  update(resource: Resource, options?: UpdateOptions): Promise<WriteOutcome>;
  delete(resourceType: string, id: string, options?: DeleteOptions): Promise<WriteOutcome>;
  search(query: SearchQuery): Promise<SearchResult>;
  /**
   * The ids of the current resources a search's filters match, without paging, sorting or reading
   * them: for searches bounded by their filters (an `_id` list), such as a subscription's criteria
   * checked against the resources just written.
   */
  matchingIds(query: SearchQuery): Promise<string[]>;
  history(query: HistoryQuery): Promise<StoredVersion[]>;
  /** One page (count + 1 rows, to tell whether more follow) of a patient's $everything, ordered by type and id. */
  everything(query: EverythingQuery): Promise<StoredVersion[]>;
  /**
   * Conditional-operation lookup: at most one current match for a search, else 412. Holds a lock on
   * the condition until the transaction ends, so two concurrent conditional writes cannot both
   * see "no match". Only inside transaction().
   */
  findConditional(resourceType: string, params: URLSearchParams, what: string): Promise<StoredVersion | undefined>;
  /**
   * Current resources by identifier, for several (type, system, value) at once — exactly what
   * `identifier=system|value` searches would find, in one query. One list per lookup, in order.
   */
  findByIdentifiers(lookups: ReadonlyArray<{ resourceType: string; system: string; value: string }>): Promise<StoredVersion[][]>;
  /**
   * Current resources that refer to `target` (`Type/id`) through a reference search parameter,
   * for several (type, parameter) pairs at once, and when `statuses` is given only those whose
   * `status` is one of them: what `Type?param=Target/id&status=…` finds for each pair, unpaged,
   * in one statement of a fixed, cheap-to-plan shape. For small, hot sets (a patient's care plans and
   * open tasks, read for every reading the follow-up engine checks), not for open-ended ones.
   */
  findReferencing(target: string, sources: ReadonlyArray<{ resourceType: string; param: string }>, statuses?: readonly string[]): Promise<StoredVersion[]>;
  /**
   * Resolves and locks a transaction's conditions up front, in as few round trips as possible:
   * identifier conditions are looked up together, and only conditions that match nothing are
   * locked (all at once, in a fixed order). Only inside transaction(); later findConditional calls
   * on these conditions use the answers (until the transaction writes) and skip locking. The rows
   * the transaction will write — the matches of conditions `forWrite` (of a conditional update or
   * delete) and the `rows` it names by id — are locked in the same round trip, as applyWrites
   * would lock them: writing them then costs no separate lock. (With no condition left to
   * resolve, the rows are left to applyWrites.)
   */
  lockConditions(conditions: ReadonlyArray<{ resourceType: string; params: URLSearchParams; forWrite?: boolean }>, rows?: ReadonlyArray<{ resourceType: string; id: string }>): Promise<void>;
  /**
   * Resources the caller knows do not exist — ids it has just minted, such as an HL7 message's
   * Provenance, named after the message's new log id — are written by applyWrites without first
   * locking and reading their rows (a round trip). Only inside transaction(). Should one exist
   * after all, its write fails as a unique violation, which isRetryable: the caller's next attempt
   * must not expect it absent again.
   */
  expectAbsent(rows: ReadonlyArray<{ resourceType: string; id: string }>): void;
  /**
   * Writes many resources at once (validating, version-checking and locking each), in one SQL
   * statement; outcomes in the order given. Errors name the write's label. Only inside transaction().
   * When it throws, the statement may already have run in the transaction (resources are
   * validated while it runs): the caller must roll back the transaction or a savepoint, as
   * transaction() and every other caller do, and go on with a new store (this one's record of the
   * locks it holds no longer holds). In a transaction of withTransaction (db/pool.ts), it may
   * return before PostgreSQL has answered the statement: a failure then fails the transaction's
   * next statement or its commit, and is reported there.
   */
  applyWrites(writes: readonly PlannedWrite[]): Promise<WriteOutcome[]>;
  /** Runs `fn` with a store whose every operation belongs to one database transaction. */
  transaction<T>(fn: (store: FhirStore) => Promise<T>): Promise<T>;
}
