/**
 * `_include` and `_revinclude` (http://hl7.org/fhir/R4/search.html#include): resources the
 * matches refer to, and resources that refer to the matches, found through search_reference.
 * `:iterate` rules run again on what was included, until nothing new turns up.
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/pool.ts';
import { issue } from '../errors.ts';
import type { StoredVersion } from '../store/fhir-store.ts';
import { R_VERSION_COLUMNS, toStoredVersion } from '../store/sql.ts';
import type { IncludeRule } from './search-query.ts';
import { codesForTarget, referenceSubset } from './typed-references.ts';

/** At most this many included resources per page; more are cut with a warning. */
export const MAX_INCLUDED = 1000;
const MAX_ITERATIONS = 4;

const key = (type: string, id: string) => `${type}/${id}`;

async function referencedBy(db: Queryable, rule: IncludeRule, from: StoredVersion[]): Promise<Array<[string, string]>> {
  const sources = from.filter((v) => v.resourceType === rule.sourceType);
  if (!sources.length) return [];
  const values: unknown[] = [rule.sourceType, sources.map((v) => v.id)];
  let sql = 'SELECT DISTINCT target_type, target_id FROM search_reference WHERE resource_type = $1 AND resource_id = ANY($2::text[]) AND target_type IS NOT NULL';
  if (rule.code !== '*') {
    // A parameter restricted to one target type reads the rows of the one it restricts (typed-references.ts).
    const subset = referenceSubset(rule.sourceType, rule.code);
    sql += ` AND code = $${values.push(subset?.code ?? rule.code)}`;
    if (subset) sql += ` AND target_type = $${values.push(subset.targetType)}`;
  }
  if (rule.targetType) sql += ` AND target_type = $${values.push(rule.targetType)}`;
  const { rows } = await db.query<{ target_type: string; target_id: string }>(sql, values);
  return rows.map((r) => [r.target_type, r.target_id]);
}

async function referringTo(db: Queryable, rule: IncludeRule, to: StoredVersion[]): Promise<Array<[string, string]>> {
  const byType = new Map<string, string[]>();
  for (const v of to) {
    if (rule.targetType && v.resourceType !== rule.targetType) continue;
    byType.set(v.resourceType, [...(byType.get(v.resourceType) ?? []), v.id]);
  }
  const out: Array<[string, string]> = [];
  for (const [targetType, ids] of byType) {
    const values: unknown[] = [targetType, ids];
    let sql = 'SELECT DISTINCT resource_type, resource_id FROM search_reference WHERE target_type = $1 AND target_id = ANY($2::text[])';
    if (rule.sourceType !== '*') sql += ` AND resource_type = $${values.push(rule.sourceType)}`;
    if (rule.code !== '*') {
      // A code names a parameter of a concrete source type (search-query.ts parseInclude).
      const [code] = codesForTarget(rule.sourceType, [rule.code], targetType);
      if (code === undefined) continue; // restricted to another target type: refers to none of these
      sql += ` AND code = $${values.push(code)}`;
    }
    const { rows } = await db.query<{ resource_type: string; resource_id: string }>(sql, values);
    out.push(...rows.map((r): [string, string] => [r.resource_type, r.resource_id]));
  }
  return out;
}

async function fetchCurrent(db: Queryable, keys: Array<[string, string]>): Promise<StoredVersion[]> {
  if (!keys.length) return [];
  const { rows } = await db.query(
    `SELECT ${R_VERSION_COLUMNS} FROM fhir_resource r
     WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND NOT r.deleted`,
    [keys.map((k) => k[0]), keys.map((k) => k[1])],
  );
  return rows.map(toStoredVersion);
}

export async function resolveIncludes(db: Queryable, rules: IncludeRule[], matches: StoredVersion[]): Promise<{ included: StoredVersion[]; warnings: OperationOutcomeIssue[] }> {
  const seen = new Set(matches.map((v) => key(v.resourceType, v.id)));
  const included: StoredVersion[] = [];
  const warnings: OperationOutcomeIssue[] = [];
  let frontier = matches;
  for (let round = 0; round < MAX_ITERATIONS && frontier.length; round++) {
    const active = rules.filter((r) => round === 0 || r.iterate);
    const found: Array<[string, string]> = [];
    for (const rule of active) {
      // Non-iterating rules apply to the matches only; iterating ones to everything found so far.
      const base = rule.iterate ? frontier : matches;
      found.push(...(rule.reverse ? await referringTo(db, rule, base) : await referencedBy(db, rule, base)));
    }
    const fresh = found.filter(([t, id]) => !seen.has(key(t, id)));
    fresh.forEach(([t, id]) => seen.add(key(t, id)));
    const room = MAX_INCLUDED - included.length;
    if (fresh.length > room) {
      warnings.push(issue('too-costly', undefined, `More than ${MAX_INCLUDED} resources to include; the rest were left out`, undefined, 'warning'));
    }
    frontier = await fetchCurrent(db, fresh.slice(0, Math.max(0, room)));
    included.push(...frontier);
    if (!rules.some((r) => r.iterate) || fresh.length > room) break;
  }
  return { included, warnings };
}
