/**
 * Search parameters that select exactly what two or more other parameters of the same resource
 * type select together. R4 has six, all on Observation: `combo-code` is `code | component-code`,
 * `combo-value-quantity` is `value-quantity | component-value-quantity`, and so on. Their index
 * rows would repeat their parts' rows — a third of an Observation's rows — so none are stored
 * (index-rows.ts skips them) and a search on one reads its parts' rows (search-sql.ts).
 *
 * Found by comparing the parameters' FHIRPath expressions: each branch of the union must be,
 * text for text, the whole expression of another parameter of the same type (and, for
 * composites, with the same components). Only among R4's own parameters, which never change:
 * a custom parameter's rows never depend on another custom parameter that may be edited away.
 */
import { parseFhirPath } from '@medplum/core';
import { baseSearchParams } from '../definitions.ts';
import type { SearchParamDef } from '../definitions.ts';
import { compositeComponents } from './parse-filter.ts';

const cache = new Map<string, ReadonlyMap<string, readonly string[]>>();

/** The codes whose rows together are the rows of `code` on `resourceType`; undefined when it has rows of its own. */
export function unionParts(resourceType: string, code: string): readonly string[] | undefined {
  return unionsOf(resourceType).get(code);
}

/** The codes whose index rows a search on `code` reads: its union parts, or itself. */
export function indexCodes(resourceType: string, code: string): readonly string[] {
  return unionParts(resourceType, code) ?? [code];
}

function unionsOf(resourceType: string): ReadonlyMap<string, readonly string[]> {
  let unions = cache.get(resourceType);
  if (!unions) {
    unions = findUnions(baseSearchParams(resourceType));
    cache.set(resourceType, unions);
  }
  return unions;
}

/** What kind of rows a parameter has: its type and, for a composite, its components. Undefined: not comparable. */
function kindOf(param: SearchParamDef): string | undefined {
  if (param.type !== 'composite') return param.type;
  const components = compositeComponents(param);
  return components && `composite ${components.map((c) => `${c.type}:${normalize(parseFhirPath(c.expression).toString())}`).join(' ')}`;
}

/**
 * The FHIRPath a parameter's rows come from on this type. A composite's is its definition's own
 * expression (index-rows.ts compositeBase: the per-type form drops a bare `Observation` branch).
 */
function expressionOf(param: SearchParamDef): string {
  if (param.type === 'composite' && param.definition.expression) return parseFhirPath(param.definition.expression).toString();
  return param.expression.toString();
}

/**
 * Each parameter whose union branches are exactly those of smaller parameters of the same kind,
 * with those parameters (only ones that have rows of their own; none whose branches another of
 * them already covers).
 */
export function findUnions(params: ReadonlyMap<string, SearchParamDef>): Map<string, readonly string[]> {
  const described: Array<{ code: string; kind: string; branches: Set<string> }> = [];
  for (const [code, param] of params) {
    if (param.type === 'reference' || param.type === 'special' || code.startsWith('_')) continue;
    const kind = kindOf(param);
    if (kind) described.push({ code, kind, branches: new Set(leafBranches(expressionOf(param))) });
  }
  const within = (a: Set<string>, b: Set<string>) => a.size < b.size && [...a].every((x) => b.has(x));
  const smaller = (p: (typeof described)[number]) => described.filter((q) => q.kind === p.kind && within(q.branches, p.branches));
  const covers = (parts: typeof described, p: (typeof described)[number]) => [...p.branches].every((b) => parts.some((q) => q.branches.has(b)));
  const covered = new Set(described.filter((p) => covers(smaller(p), p)).map((p) => p.code));
  const unions = new Map<string, readonly string[]>();
  for (const p of described) {
    if (!covered.has(p.code)) continue;
    const own = smaller(p).filter((q) => !covered.has(q.code));
    const parts = own.filter((q) => !own.some((r) => within(q.branches, r.branches)));
    if (covers(parts, p)) unions.set(p.code, parts.map((q) => q.code));
  }
  return unions;
}

/** The branches of a union, nested unions flattened: `(a | b) | c` → a, b, c. */
function leafBranches(expression: string): string[] {
  const branches = unionBranches(expression);
  return branches.length === 1 ? branches : branches.flatMap(leafBranches);
}

/** Trimmed, outer parentheses dropped: expressions as @medplum/core prints them compare as text. */
function normalize(expression: string): string {
  let s = expression.trim();
  while (s.startsWith('(') && closingParen(s, 0) === s.length - 1) s = s.slice(1, -1).trim();
  return s;
}

/** The branches of a top-level union `a | b | …`, normalised; one branch when it is not a union. */
export function unionBranches(expression: string): string[] {
  const s = normalize(expression);
  const branches: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '`') {
      i = endOfQuoted(s, i);
      if (i < 0) return [s]; // unterminated: not something to split
    } else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === '|' && depth === 0) {
      branches.push(normalize(s.slice(start, i)));
      start = i + 1;
    }
  }
  branches.push(normalize(s.slice(start)));
  return branches;
}

/** Index of the parenthesis closing the one at `open`, or -1. */
function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '`') {
      i = endOfQuoted(s, i);
      if (i < 0) return -1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Index of the quote closing the string or delimited identifier opening at `open` (backslash escapes skipped), or -1. */
function endOfQuoted(s: string, open: number): number {
  const quote = s[open];
  for (let i = open + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === quote) return i;
  }
  return -1;
}
