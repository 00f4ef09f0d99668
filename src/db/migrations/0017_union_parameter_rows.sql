-- Observation's combo-* search parameters select what two other parameters select together
-- (combo-code = code | component-code, …). Their rows repeated those parameters' rows — four of
-- the thirteen rows of a vital-sign Observation — and are no longer written: a search on one
-- reads its parts' rows (src/fhir/search/union-params.ts). The rows written before are removed
-- here; searches never read them again either way.
DELETE FROM search_token WHERE resource_type = 'Observation' AND code IN ('combo-code', 'combo-data-absent-reason', 'combo-value-concept');
DELETE FROM search_quantity WHERE resource_type = 'Observation' AND code = 'combo-value-quantity';
DELETE FROM search_composite WHERE resource_type = 'Observation' AND code IN ('combo-code-value-concept', 'combo-code-value-quantity');
