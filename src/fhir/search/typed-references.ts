/**
 * Reference parameters that are another reference parameter of the same resource type restricted
 * to one target type: Observation `patient` is `Observation.subject.where(resolve() is Patient)`,
 * `subject` is `Observation.subject`. Their reference rows would repeat the other parameter's
 * rows that point at a Patient — a row in every clinical resource — so none are stored
 * (index-rows.ts) and every query of them reads the other parameter's rows with
 * `target_type = 'Patient'` (search-sql.ts, includes.ts, store/sql.ts).
 *
 * One difference, by design: the stored rows are those whose reference parses as `Type/id`
 * (target_type); a conditional reference kept as written (`Patient?identifier=…`, which a
 * transaction resolves before storing) is found through `subject`, not `patient`. Their
 * `:identifier` token rows (`patient:identifier`) are still stored: a logical reference names
 * its type in Reference.type, which the parsed rows do not hold.
 *
 * Found by comparing expressions, among R4's own parameters only (see union-params.ts).
 */
import { baseSearchParams, isResourceType } from '../definitions.ts';
import type { SearchParamDef } from '../definitions.ts';

export interface ReferenceSubset {
  /** The parameter whose rows these are. */
  code: string;
  /** The one target type of the rows. */
  targetType: string;
}

const cache = new Map<string, ReadonlyMap<string, ReferenceSubset>>();

/** The parameter and target type whose rows are those of reference parameter `code`; undefined when it has rows of its own. */
export function referenceSubset(resourceType: string, code: string): ReferenceSubset | undefined {
  let subsets = cache.get(resourceType);
  if (!subsets) {
    subsets = findReferenceSubsets(baseSearchParams(resourceType));
    cache.set(resourceType, subsets);
  }
  return subsets.get(code);
}

/**
 * The codes whose rows answer reference parameters `codes` of `resourceType` in a query that
 * already requires `target_type = targetType`: a subset becomes its parameter when its target
 * type is that one, and drops out otherwise (it can match nothing there).
 */
export function codesForTarget(resourceType: string, codes: readonly string[], targetType: string): string[] {
  const out = new Set<string>();
  for (const code of codes) {
    const subset = referenceSubset(resourceType, code);
    if (!subset) out.add(code);
    else if (subset.targetType === targetType) out.add(subset.code);
  }
  return [...out];
}

const TYPED = /^(.+)\.where\(\(?resolve\(\) is ([A-Za-z]+)\)?\)$/;

export function findReferenceSubsets(params: ReadonlyMap<string, SearchParamDef>): Map<string, ReferenceSubset> {
  const byExpression = new Map<string, string>();
  for (const [code, param] of params) {
    if (param.type === 'reference' && !TYPED.test(param.expression.toString())) byExpression.set(param.expression.toString(), code);
  }
  const subsets = new Map<string, ReferenceSubset>();
  for (const [code, param] of params) {
    if (param.type !== 'reference') continue;
    const typed = TYPED.exec(param.expression.toString());
    if (!typed) continue;
    const [, base, targetType] = typed as unknown as [string, string, string];
    const whole = byExpression.get(base);
    if (whole && whole !== code && isResourceType(targetType)) subsets.set(code, { code: whole, targetType });
  }
  return subsets;
}
