/**
 * Names for generated SQL, so PostgreSQL keeps each shape's plan per connection. A search with
 * three filters is ~0.3 ms to run and 2–5 ms to plan (each filter is a semi-join the planner
 * orders; more under load): planned once per connection and shape, then — when PostgreSQL finds
 * the generic plan no worse than the custom ones (plan_cache_mode auto) — reused. The same search
 * shapes recur (the follow-up engine's lookups, an app's worklist), so a bounded number of names
 * covers them; shapes beyond the bound run unnamed, planned each time as before.
 */
import { createHash } from 'node:crypto';

const MAX_NAMED = 256;
const names = new Map<string, string>();

/** A statement name for this SQL text, or undefined once MAX_NAMED shapes have names. */
export function statementName(text: string): string | undefined {
  const known = names.get(text);
  if (known || names.size >= MAX_NAMED) return known;
  const name = `cb_s_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
  names.set(text, name);
  return name;
}
