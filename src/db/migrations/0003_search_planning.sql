-- Better plans at volume (measured with bench/search on 1M resources; see bench/search/RESULTS.md).
--
-- 1. Index columns are strongly correlated (a code value implies its resource type and parameter
--    code), which the planner assumes independent: it expected ~1 row where there were 80,000.
--    Extended statistics teach it the dependencies and most common combinations.
CREATE STATISTICS search_token_stats (dependencies, mcv) ON resource_type, code, value FROM search_token;
CREATE STATISTICS search_string_stats (dependencies, mcv) ON resource_type, code FROM search_string;
CREATE STATISTICS search_date_stats (dependencies, mcv) ON resource_type, code FROM search_date;
CREATE STATISTICS search_reference_stats (dependencies, mcv) ON resource_type, code, target_type FROM search_reference;
CREATE STATISTICS search_quantity_stats (dependencies, mcv) ON resource_type, code, unit FROM search_quantity;
CREATE STATISTICS search_composite_stats (dependencies, mcv) ON resource_type, code, c1_value FROM search_composite;

-- 2. Live resources by type and id: searches pick a page of ids (and counts) from this index alone,
--    without reading the content of every match.
CREATE INDEX fhir_resource_live ON fhir_resource (resource_type, id) WHERE NOT deleted;

ANALYZE fhir_resource, search_token, search_string, search_date, search_reference, search_quantity, search_composite;
