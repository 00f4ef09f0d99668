-- One index finds a reference's sources where two did. Every search_reference row had three index
-- entries: by source (search_reference_resource), by parameter then target
-- (search_reference_target: resource_type, code, target_id, target_type) and by target alone
-- (search_reference_reverse: target_type, target_id, for _revinclude=* and $everything). Every
-- query of the latter two names the target's id with `=` or `IN`: searches by reference, chains,
-- compartments, _revinclude, $everything's members, the referencing resources an HL7 merge moves.
-- With the target first, one index answers them all — the parameter and source type, when given,
-- are further equalities within one target's few entries. References are about a third of an
-- HL7 message's index rows; this is one B-tree insertion fewer for each.
CREATE INDEX search_reference_by_target ON search_reference (target_id, target_type, resource_type, code);
DROP INDEX search_reference_target;
DROP INDEX search_reference_reverse;
