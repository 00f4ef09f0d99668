-- The rows a transaction will write are locked in the same round trip as its conditions are
-- resolved. The store resolved a transaction's conditions (cb_resolve_conditions, migration 0013),
-- then locked the rows it was going to replace (FOR UPDATE, to read their current version and
-- queue behind concurrent writers): a second round trip, for rows the first had just found or
-- that the transaction names by id. Now the caller says which lookups' matches it will write
-- (`lookup_for_write`) and which rows it will write by id (`row_types`, `row_ids`); they are
-- locked here, in one order for every caller (sorted, like the advisory locks), and returned as
-- read after the lock — the newest version, which no one else can change until this transaction
-- ends. A match deleted in between comes back deleted; the caller then treats the condition as
-- unresolved. Rows named by id come back with n = 0 (those that exist).

CREATE TYPE cb_condition_match AS (n int, pass int, row_locked boolean, resource_type text, id text, version_id int, last_updated text, deleted boolean, content text);

DROP FUNCTION cb_resolve_conditions(text[], text[], text[], text[], text[]);

-- Its lookups use their cached plan (as migration 0016 set): one index probe of search_token per
-- lookup, then of fhir_resource; the row locks are primary-key probes.
CREATE FUNCTION cb_resolve_conditions(
  lookup_types text[], lookup_systems text[], lookup_values text[], lookup_keys text[], other_keys text[],
  lookup_for_write boolean[], row_types text[], row_ids text[])
RETURNS SETOF cb_condition_match LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  found cb_identifier_match[];
  missing int[];
  again_types text[];
  again_systems text[];
  again_values text[];
BEGIN
  SELECT coalesce(array_agg(m), '{}') INTO found FROM cb_identifier_matches(lookup_types, lookup_systems, lookup_values) m;
  IF cardinality(row_ids) > 0 OR EXISTS (SELECT 1 FROM unnest(found) f WHERE lookup_for_write[f.n]) THEN
    PERFORM 1 FROM fhir_resource r
      WHERE (r.resource_type, r.id) IN (
        SELECT f.resource_type, f.id FROM unnest(found) f WHERE lookup_for_write[f.n]
        UNION SELECT w.resource_type, w.id FROM unnest(row_types, row_ids) AS w(resource_type, id))
      ORDER BY r.resource_type, r.id
      FOR UPDATE;
    -- New statements, so a new snapshot: the versions as locked.
    RETURN QUERY
      SELECT f.n, 1, true, r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}', r.deleted, r.content
        FROM unnest(found) f JOIN fhir_resource r ON r.resource_type = f.resource_type AND r.id = f.id
       WHERE lookup_for_write[f.n];
    RETURN QUERY
      SELECT 0, 0, true, r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}', r.deleted, r.content
        FROM unnest(row_types, row_ids) AS w(resource_type, id) JOIN fhir_resource r ON r.resource_type = w.resource_type AND r.id = w.id;
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
