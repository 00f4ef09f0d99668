/**
 * Id-ordered pages walked instead of planned: the probe that decides, and the walk's SQL. The
 * conditions themselves come from search-sql.ts.
 */
import { R_VERSION_COLUMNS } from '../store/sql.ts';
import { cursorCondition, filterCondition, listable, matchingIds, Params } from './search-sql.ts';
import type { SearchSql } from './search-sql.ts';
import type { SearchFilter, SearchQuery } from './search-query.ts';

/**
 * Paging in id order by walking the type's live ids is cheap when most resources match (the page
 * fills after a few dozen checks) and ruinous when few do; listing the matches and sorting them is
 * the reverse. PostgreSQL chooses by its estimate of how many resources a filter keeps, and that
 * estimate is far too low for our filters: it divides a filter's distinct ids by the distinct ids
 * of *all* resource types in fhir_resource (it does not narrow the outer side of a semi-join to
 * one type). So `Encounter?status=finished&date=ge…` (11,610 matches) was planned for 18 and its
 * matches listed and sorted: 48 ms, against 0.3 ms walked. The server therefore measures: a probe
 * counts each filter's index entries and the plan follows from the counts (walkFirst, listDriver).
 * Either way the other filters are checked by per-id lookups.
 */
export interface WalkLimits {
  /** A walk is tried when every filter has at least this many index entries (none is selective). */
  walkFrom: number;
  /** Index entries a probe counts per filter; a page can be listed from a filter with fewer. */
  listUpTo: number;
  /** Live ids a walk looks at before giving up on filling the page. */
  budget: number;
}

export const WALK_LIMITS: WalkLimits = { walkFrom: 2000, listUpTo: 10_000, budget: 1000 };

/** True when a walk is worth probing for: an id-ordered page with filters that list their ids. */
export function walkCandidate(query: SearchQuery): boolean {
  if (query.sort.length || query.compartment || !query.filters.length) return false;
  if (query.cursor?.direction === 'previous') return false;
  // An id list, a reference to one resource or an identifier bounds the page already: the
  // planner starts from it, and the probe's round trip would be wasted (the follow-up engine's
  // patient-scoped lookups are all like this).
  if (query.filters.some(bounding)) return false;
  return query.filters.some(listable);
}

/**
 * A filter that alone keeps few resources: an id list, a reference to one resource, an
 * identifier — or a chain to such a filter (`subject.identifier=…`).
 */
function bounding(f: SearchFilter): boolean {
  if (f.kind === 'chain') return f.branches.every((b) => bounding(b.inner));
  if (f.kind !== 'param' || f.modifier === 'not' || f.modifier === 'missing') return false;
  return f.type === 'id' || f.type === 'reference' || (f.type === 'token' && f.code === 'identifier');
}

/** One row: for each listable filter (in order), its index entries counted up to `upTo`. */
export function walkProbeSql(query: SearchQuery, upTo: number): SearchSql {
  const p = new Params();
  // One parameter per resource type counted, added when first used: a probe of reverse chains
  // alone never names the searched type, and an unused parameter has no type PostgreSQL can infer.
  const typeParams = new Map<string, string>();
  const typeSql = (type: string) => typeParams.get(type) ?? typeParams.set(type, p.add(type)).get(type)!;
  const cap = p.add(upTo);
  const counts = query.filters.filter(listable).map((f, i) => {
    // A reverse chain or chain is as selective as what it looks for, counted without the join
    // (counting the joined rows cost 9 ms for 2,000 Conditions; their codes alone 0.4 ms).
    const [type, counted] = probedFilter(query.resourceType, f);
    return `(SELECT count(*)::int FROM (${matchingIds(p, type, typeSql(type), counted)} LIMIT ${cap}) m) AS c${i}`;
  });
  return { text: `SELECT ${counts.join(',\n  ')}`, values: p.values };
}

/** The filter a probe counts for `f`: the innermost one of a (reverse) chain, with its type. */
function probedFilter(resourceType: string, f: SearchFilter): [string, SearchFilter] {
  if (f.kind === 'has' && listable(f.inner)) return probedFilter(f.sourceType, f.inner);
  if (f.kind === 'chain' && f.branches.length === 1 && listable(f.branches[0]!.inner)) return probedFilter(f.branches[0]!.targetType, f.branches[0]!.inner);
  return [resourceType, f];
}

/**
 * How to page by id, in the order to try: walk the live ids when every filter has at least
 * `walkFrom` entries (cheap when the page fills early; it gives up after `budget` ids); list the ids
 * of the filter with fewest entries when that is under `listUpTo` (the page then costs at most that
 * many checks and a sort) — except a reverse chain, whose targets may be deleted. Neither: the
 * planner's plan. The store probes with a cap of `walkFrom` first, and counts further only after a
 * walk came back short (counting 10,000 entries of two filters took 4 ms, a walk that fills the
 * page 0.3 ms).
 */
export function walkFirst(counts: readonly number[], limits: WalkLimits = WALK_LIMITS): boolean {
  return counts.length > 0 && counts.every((n) => n >= limits.walkFrom);
}

/** The filter to list the page from, given the probe's counts for the listable filters in order. */
export function listDriver(query: SearchQuery, counts: readonly number[], limits: WalkLimits = WALK_LIMITS): SearchFilter | undefined {
  const probed = query.filters.filter(listable);
  if (!probed.length || counts.length !== probed.length) return undefined;
  const fewest = counts.indexOf(Math.min(...counts));
  return counts[fewest]! < limits.listUpTo && probed[fewest]!.kind !== 'has' ? probed[fewest] : undefined;
}

/**
 * The page from a plan. A walk looks at most `limits.budget` live ids in id order; a list takes
 * the driver filter's ids (live resources only: index rows exist for current versions alone), in
 * id order. Each id is checked against the other filters by index lookups on it (EXISTS … OFFSET 0
 * keeps PostgreSQL from turning them back into joins over every match), and the scan stops as soon
 * as the page and one more row are found. A list is complete; a walk is only when it returns
 * count + 1 rows — a shorter one may have run out of budget, and the caller runs the planner's
 * query instead.
 */
export type PagePlan = { kind: 'walk' } | { kind: 'list'; driver: SearchFilter };

export function searchPlannedPageSql(query: SearchQuery, plan: PagePlan, limits: WalkLimits = WALK_LIMITS): SearchSql {
  const p = new Params();
  const typeParam = p.add(query.resourceType); // $1, also in the final join
  const cursor = (column: string) => (query.cursor ? ` AND ${cursorCondition(p, [{ sql: column, cast: 'text', descending: false }], query.cursor)}` : '');
  // Either way the source keeps its id order, so the page needs no sort and stops early. A walk
  // reads the live-id index alone unless a _lastUpdated condition needs the row.
  let source: string;
  if (plan.kind === 'walk') {
    const lastUpdated = query.filters.some((f) => f.kind === 'param' && f.type === 'lastUpdated') ? ', w.last_updated' : '';
    source = `(SELECT w.resource_type, w.id${lastUpdated} FROM fhir_resource w WHERE w.resource_type = ${typeParam} AND NOT w.deleted${cursor('w.id')} ORDER BY w.id ASC LIMIT ${p.add(limits.budget)}) r`;
  } else {
    const needsRow = query.filters.some((f) => f.kind === 'param' && (f.type === 'lastUpdated' || f.modifier === 'missing'));
    const ids = `(SELECT DISTINCT m.id FROM (${matchingIds(p, query.resourceType, typeParam, plan.driver)}) AS m(id) WHERE true${cursor('m.id')} ORDER BY m.id ASC)`;
    source = needsRow ? `(SELECT w.resource_type, w.id, w.last_updated FROM ${ids} AS d JOIN fhir_resource w ON w.resource_type = ${typeParam} AND w.id = d.id ORDER BY w.id ASC) r` : `${ids} r`;
  }
  const checks = query.filters
    .filter((f) => plan.kind === 'walk' || f !== plan.driver)
    .map((f) => (listable(f) ? `EXISTS (SELECT 1 FROM (${matchingIds(p, query.resourceType, typeParam, f)}) AS m(id) WHERE m.id = r.id OFFSET 0)` : filterCondition(p, query.resourceType, typeParam, 'r', f)));
  const text = `WITH page AS MATERIALIZED (
  SELECT r.id, row_number() OVER (ORDER BY r.id ASC) AS n
  FROM ${source}${checks.length ? `\n  WHERE ${checks.join('\n  AND ')}` : ''}
  ORDER BY r.id ASC
  LIMIT ${p.add(query.count + 1)} OFFSET ${p.add(query.cursor ? 0 : query.offset)}
)
SELECT ${R_VERSION_COLUMNS}
FROM page JOIN fhir_resource r ON r.resource_type = $1 AND r.id = page.id
ORDER BY page.n`;
  return { text, values: p.values };
}
