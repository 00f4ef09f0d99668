-- Cap the multi-column MCV list of search_token at 200 combinations. Migration 0009 raised its
-- statistics target to 2000 (with the value column's) so rare-but-important combinations such as
-- Task status were estimated. The list is read and matched against the clauses every time the
-- planner estimates a token filter: with HL7-shaped data (many repeated identifiers and codes)
-- ANALYZE fills it to 2,000 items and planning one token filter cost 1.3 ms, in searches that run
-- in 0.05–0.3 ms; the follow-up engine's searches on every HL7 message then spent most of the
-- database's CPU planning (found with pg_stat_statements). 200 items: 0.1 ms. The value column
-- keeps its 2,000-value list (cheap: one lookup per clause), and with the functional dependencies
-- the estimates of rarer combinations still come out right; on the 1M-resource search benchmark
-- data the list holds 78 combinations, so its plans do not change.
ALTER STATISTICS search_token_stats SET STATISTICS 200;

ANALYZE search_token;
