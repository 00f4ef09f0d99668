-- cb_resolve_conditions uses cached generic plans (migration 0016), made once per session from
-- the statistics of that moment and made again only after an ANALYZE of their tables. On a new
-- database they were made for empty tables, and cb_identifier_matches left the planner free to
-- join fhir_resource before search_token and to scan either: once the tables had grown, such a
-- plan read them whole for each lookup. Resolving all of an HL7 message's conditions in one call
-- (about fourteen lookups), while eight connections loaded new patients, a call was caught
-- scanning search_token for over a minute before the statistics keeper's ANALYZE replaced the
-- plan. Planning at each call instead (force_custom_plan) cost a fifth of the HL7 throughput.
--
-- So the statements leave the planner no such choice: for each lookup, its identifier's index
-- entries (LATERAL), then for each of those the resource by primary key (LATERAL, LIMIT 1: not
-- flattened into a join the planner may reorder); the rows to lock and read again likewise, each
-- by primary key, in sorted order. And sequential scans are off for the function. A plan made for
-- empty tables may still pick a broader index (tests/db-cached-plans.test.ts: 12,185 pages where
-- the old shape read 313,712), but its work grows with the tables, not with their square, until
-- the keeper's ANALYZE has it planned again as index probes.
CREATE OR REPLACE FUNCTION cb_identifier_matches(lookup_types text[], lookup_systems text[], lookup_values text[])
RETURNS SETOF cb_identifier_match LANGUAGE sql STABLE AS $$
  SELECT c.n::int, 1, r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}', r.deleted, r.content
    FROM unnest(lookup_types, lookup_systems, lookup_values) WITH ORDINALITY AS c(resource_type, system, value, n)
   CROSS JOIN LATERAL (
     SELECT DISTINCT t.resource_id FROM search_token t
      WHERE t.resource_type = c.resource_type AND t.code = 'identifier' AND t.value = c.value AND t.system = c.system
   ) AS t
   CROSS JOIN LATERAL (
     SELECT f.resource_type, f.id, f.version_id, f.last_updated, f.deleted, f.content FROM fhir_resource f
      WHERE f.resource_type = c.resource_type AND f.id = t.resource_id AND NOT f.deleted
      LIMIT 1
   ) AS r
$$;

CREATE OR REPLACE FUNCTION cb_resolve_conditions(
  lookup_types text[], lookup_systems text[], lookup_values text[], lookup_keys text[], other_keys text[],
  lookup_for_write boolean[], row_types text[], row_ids text[])
RETURNS SETOF cb_condition_match LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
  found cb_identifier_match[];
  missing int[];
  again_types text[];
  again_systems text[];
  again_values text[];
BEGIN
  SELECT coalesce(array_agg(m), '{}') INTO found FROM cb_identifier_matches(lookup_types, lookup_systems, lookup_values) m;
  IF cardinality(row_ids) > 0 OR EXISTS (SELECT 1 FROM unnest(found) f WHERE lookup_for_write[f.n]) THEN
    PERFORM 1 FROM (
        SELECT f.resource_type, f.id FROM unnest(found) f WHERE lookup_for_write[f.n]
        UNION SELECT w.resource_type, w.id FROM unnest(row_types, row_ids) AS w(resource_type, id)
        ORDER BY 1, 2) AS k
      CROSS JOIN LATERAL (
        SELECT 1 FROM fhir_resource r WHERE r.resource_type = k.resource_type AND r.id = k.id FOR UPDATE
      ) AS locked;
    -- New statements, so a new snapshot: the versions as locked.
    RETURN QUERY
      SELECT f.n, 1, true, r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}', r.deleted, r.content
        FROM unnest(found) f
       CROSS JOIN LATERAL (SELECT * FROM fhir_resource r WHERE r.resource_type = f.resource_type AND r.id = f.id LIMIT 1) AS r
       WHERE lookup_for_write[f.n];
    RETURN QUERY
      SELECT 0, 0, true, r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}', r.deleted, r.content
        FROM unnest(row_types, row_ids) AS w(resource_type, id)
       CROSS JOIN LATERAL (SELECT * FROM fhir_resource r WHERE r.resource_type = w.resource_type AND r.id = w.id LIMIT 1) AS r;
  END IF;
  RETURN QUERY
    SELECT f.n, f.pass, false, f.resource_type, f.id, f.version_id, f.last_updated, f.deleted, f.content
      FROM unnest(found) f WHERE lookup_for_write[f.n] IS NOT TRUE;
  SELECT coalesce(array_agg(i ORDER BY i), '{}') INTO missing
    FROM generate_subscripts(lookup_types, 1) AS i
   WHERE i NOT IN (SELECT f.n FROM unnest(found) f);
  IF cardinality(missing) = 0 AND cardinality(other_keys) = 0 THEN
    RETURN;
  END IF;
  PERFORM count(pg_advisory_xact_lock(hashtextextended(k, 0)))
     FROM (SELECT DISTINCT k COLLATE "C" AS k FROM unnest(other_keys || ARRAY(SELECT lookup_keys[i] FROM unnest(missing) AS i)) AS k ORDER BY 1) AS sorted;
  IF cardinality(missing) = 0 THEN
    RETURN;
  END IF;
  -- Plain variables as the arguments, so the lookup is inlined into this statement (a subquery
  -- argument made PostgreSQL run the function apart and plan its body a second time). A match
  -- found now was created by a transaction this one waited for: the caller locks its row itself.
  SELECT array_agg(lookup_types[i] ORDER BY o), array_agg(lookup_systems[i] ORDER BY o), array_agg(lookup_values[i] ORDER BY o)
    INTO again_types, again_systems, again_values
    FROM unnest(missing) WITH ORDINALITY AS u(i, o);
  RETURN QUERY
    SELECT missing[m.n], 2, false, m.resource_type, m.id, m.version_id, m.last_updated, m.deleted, m.content
      FROM cb_identifier_matches(again_types, again_systems, again_values) m;
END
$$;
