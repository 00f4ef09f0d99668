-- Composite rows by their first component's code and their second component's number: finds
-- `code-value-quantity=X$gtN` — and `code=X&value-quantity=gtN`, which implies it
-- (src/fhir/search/implied-filters.ts) — from the matching range alone. The existing
-- (c1_value, c2_value) index keys the second component by its unit, so a number range read every
-- row of the code (63,000 glucose results for the few hundred above 200).
CREATE INDEX search_composite_number ON search_composite (resource_type, code, c1_value, c2_number) INCLUDE (resource_id, c1_system);
