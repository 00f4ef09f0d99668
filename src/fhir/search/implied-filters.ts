/**
 * Filters a search implies, added so the page can start from a narrower index. An Observation
 * with `code=X` and `value-quantity=gtN` has a `code-value-quantity` composite row (X, its value):
 * the composite index finds the rare combination directly (glucose above 200: a few hundred rows)
 * where each filter alone matches tens of thousands and the planner could only walk or intersect
 * them (65 ms). The added filter never changes the answer: every resource matching both filters
 * matches it, because Observation.value is single and both index the same code tokens and value.
 */
import type { CompositeFilter, ParamFilter, SearchFilter, SearchQuery } from './search-query.ts';

const isParam = (f: SearchFilter, code: string): f is ParamFilter => f.kind === 'param' && f.code === code && f.modifier === undefined;

export function withImpliedFilters(query: SearchQuery): SearchQuery {
  if (query.resourceType !== 'Observation') return query;
  const codes = query.filters.filter((f) => isParam(f, 'code'));
  const values = query.filters.filter((f) => isParam(f, 'value-quantity'));
  if (codes.length !== 1 || values.length !== 1) return query;
  const [code] = codes[0]!.values;
  const [value] = values[0]!.values;
  if (codes[0]!.values.length !== 1 || values[0]!.values.length !== 1 || !code || !value) return query;
  // The composite's code must name a code (its index is by code), and the quantity carry no unit:
  // with a unit, value-quantity also compares in canonical UCUM units, which the composite does not.
  const tokenCode = code.parts[code.parts.length - 1];
  if (!tokenCode || value.parts.slice(1).some(Boolean)) return query;
  const implied: CompositeFilter = { kind: 'composite', code: 'code-value-quantity', secondType: 'quantity', values: [[code, value]] };
  return { ...query, filters: [...query.filters, implied] };
}
