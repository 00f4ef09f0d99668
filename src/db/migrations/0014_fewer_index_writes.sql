-- Fewer index entries per write. Index maintenance is most of the database's work in a write:
-- an HL7 discharge writes ~110 index rows across the search tables and ~400 index entries with
-- them. Two indexes were written for every row yet serve a few rows only:
--
-- * search_reference_value (resource_type, code, reference) answers searches by a reference that
--   is neither `Type/id` nor a bare id (an absolute URL, a canonical). Those only ever match rows
--   whose reference did not parse as relative, i.e. target_id IS NULL; every relative reference
--   (nearly all of them) is found through search_reference_target. Partial now, and the search
--   SQL says `target_id IS NULL` with its condition (search-sql.ts referenceCondition).
-- * fhir_event_resource (resource_type, resource_id, version_id) was only read for Subscription
--   events (where a subscription's events start; the dispatcher's skip over a bulk load stops at
--   the first Subscription write). Two partial indexes for those replace it.
DROP INDEX search_reference_value;
CREATE INDEX search_reference_value ON search_reference (resource_type, code, reference) WHERE target_id IS NULL;

DROP INDEX fhir_event_resource;
CREATE INDEX fhir_event_subscription_resource ON fhir_event (resource_id, transaction_id, event_id) WHERE resource_type = 'Subscription';
CREATE INDEX fhir_event_subscription_position ON fhir_event (transaction_id, event_id) WHERE resource_type = 'Subscription';
