-- The subscription engine's queue tables churn: every notification row is inserted, claimed and
-- marked delivered (two updates), and the dispatch cursor and subscription state rows are updated
-- on every pass. Dead entries pile up at the head of the pending index between vacuums, and every
-- claim walks them: under sustained load the head probe slowed until autovacuum came round (the
-- default triggers at 20 % of the table dead). Vacuum these tables early and without throttling.
ALTER TABLE subscription_notification SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 2000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE subscription_state SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE subscription_dispatch_cursor SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0);
