-- cb_resolve_conditions (migration 0013) planned its identifier lookups at each call
-- (force_custom_plan), because a plan cached while the database was nearly empty scanned whole
-- tables once they had grown (1 s per call while loading). Planning them cost more than running
-- them: 0.3 against 0.08 ms per call, two calls per HL7 message. The server now analyses its
-- young tables as they grow (src/db/statistics-keeper.ts), and an ANALYZE makes PostgreSQL plan
-- cached statements again, so a plan made on small tables lasts seconds. With statistics the
-- generic plan is the one wanted — one index probe of search_token per lookup, then one of
-- fhir_resource — but PostgreSQL's own choice (plan_cache_mode = auto) kept planning per call,
-- because the generic plan assumes ten lookups where a call has two or three: cache it always.
ALTER FUNCTION cb_resolve_conditions(text[], text[], text[], text[], text[]) SET plan_cache_mode = force_generic_plan;
