-- The lookups of conditional writes in one round trip (PgFhirStore.lockConditions). A transaction
-- Bundle's conditions (an HL7 message has a dozen: patient, encounter, diagnoses, observations…)
-- were resolved in three statements: the identifier conditions looked up without locks, the
-- advisory locks taken on those that matched nothing, and those looked up again. The last one
-- must be a new statement, with a snapshot taken after the locks were granted: a transaction we
-- waited for may have created the resource. Statements inside a VOLATILE PL/pgSQL function each
-- take a new snapshot (READ COMMITTED), so the three become one call with the same meaning.

-- A current resource found for lookup `n` (1-based); `pass` 1 = found without a lock, 2 = found
-- after the lookup's condition was locked.
CREATE TYPE cb_identifier_match AS (n int, pass int, resource_type text, id text, version_id int, last_updated text, deleted boolean, content text);

-- Current resources by identifier, one lookup per (type, system, value): what
-- `Type?identifier=system|value` finds. LATERAL keeps it one index lookup per identifier whatever
-- the planner estimates for the arrays. A single-SELECT SQL function: inlined into the calling
-- query and planned with it.
CREATE FUNCTION cb_identifier_matches(lookup_types text[], lookup_systems text[], lookup_values text[])
RETURNS SETOF cb_identifier_match LANGUAGE sql STABLE AS $$
  SELECT c.n::int, 1, r.resource_type, r.id, r.version_id, to_json(r.last_updated) #>> '{}', r.deleted, r.content
    FROM unnest(lookup_types, lookup_systems, lookup_values) WITH ORDINALITY AS c(resource_type, system, value, n)
   CROSS JOIN LATERAL (
     SELECT DISTINCT t.resource_id FROM search_token t
      WHERE t.resource_type = c.resource_type AND t.code = 'identifier' AND t.value = c.value AND t.system = c.system
   ) AS t
    JOIN fhir_resource r ON r.resource_type = c.resource_type AND r.id = t.resource_id AND NOT r.deleted
$$;

-- Resolves a transaction's conditions: every identifier lookup without locks; then the advisory
-- locks (sorted, so concurrent callers take them in one order) on the lookups that found nothing
-- (`lookup_keys`: each lookup's lock key) and on `other_keys` (conditions of other shapes); then
-- the unfound lookups again, in a new snapshot. Its lookups are planned at each call, for the
-- values (force_custom_plan): a plan cached on a new, nearly empty database read all of
-- fhir_resource per identifier once the tables had grown (seen as 1 s per call while loading).
CREATE FUNCTION cb_resolve_conditions(lookup_types text[], lookup_systems text[], lookup_values text[], lookup_keys text[], other_keys text[])
RETURNS SETOF cb_identifier_match LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
  found cb_identifier_match[];
  missing int[];
  again_types text[];
  again_systems text[];
  again_values text[];
BEGIN
  SELECT coalesce(array_agg(m), '{}') INTO found FROM cb_identifier_matches(lookup_types, lookup_systems, lookup_values) m;
  RETURN QUERY SELECT * FROM unnest(found);
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
  -- argument made PostgreSQL run the function apart and plan its body a second time).
  SELECT array_agg(lookup_types[i] ORDER BY o), array_agg(lookup_systems[i] ORDER BY o), array_agg(lookup_values[i] ORDER BY o)
    INTO again_types, again_systems, again_values
    FROM unnest(missing) WITH ORDINALITY AS u(i, o);
  RETURN QUERY
    SELECT missing[m.n], 2, m.resource_type, m.id, m.version_id, m.last_updated, m.deleted, m.content
      FROM cb_identifier_matches(again_types, again_systems, again_values) m;
END
$$;
