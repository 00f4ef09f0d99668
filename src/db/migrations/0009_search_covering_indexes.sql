-- Searches answered from the indexes alone (measured with bench/search on 1M resources; see
-- bench/search/RESULTS.md, run 3).
--
-- 1. Filters list resource ids from an index; without the id in it, every match was a heap fetch
--    (3,240 open Tasks: 3,104 heap blocks read). With INCLUDE (resource_id) the scan is
--    index-only. The token index grows (its duplicate keys no longer deduplicate), which is
--    the price of the most common filters (status, code, identifier, gender) reading no heap.
DROP INDEX search_token_value;
CREATE INDEX search_token_value ON search_token (resource_type, code, value, system) INCLUDE (resource_id);
DROP INDEX search_date_low;
CREATE INDEX search_date_low ON search_date (resource_type, code, low) INCLUDE (high, resource_id);
DROP INDEX search_date_high;
CREATE INDEX search_date_high ON search_date (resource_type, code, high) INCLUDE (low, resource_id);

-- 2. Per-resource probes (the sort key of `_sort=date-param`, `:missing`, a `_has` source's
--    reference) look for one parameter of one resource: with the code in the key and the values
--    included they read one index entry instead of every row of the resource.
DROP INDEX search_date_resource;
CREATE INDEX search_date_resource ON search_date (resource_type, resource_id, code) INCLUDE (low, high);
DROP INDEX search_reference_resource;
CREATE INDEX search_reference_resource ON search_reference (resource_type, resource_id, code) INCLUDE (target_type, target_id);

-- 3. The planner's row estimates for token filters come from the most-common-values lists. Five
--    million token rows hold ~80,000 distinct (type, code, value) combinations; the default list of
--    100 missed e.g. Task status entirely (estimated 1 row, found 2,111), which chose nested loops
--    over thousands of rows. A larger sample and list fix that at a few seconds of ANALYZE.
ALTER TABLE search_token ALTER COLUMN value SET STATISTICS 2000;
ALTER STATISTICS search_token_stats SET STATISTICS 2000;

ANALYZE search_token, search_date, search_reference;
