-- The scheduler (issue 5): delayed and recurring jobs in the same store, surviving restarts, each
-- run once across server processes (claimed with a lease, FOR UPDATE SKIP LOCKED).
CREATE TABLE scheduled_job (
  -- Chosen by the caller (e.g. "task-due:Task/123"): scheduling the same key again replaces it.
  key           text        PRIMARY KEY,
  kind          text        NOT NULL,
  payload       jsonb       NOT NULL DEFAULT '{}',
  run_at        timestamptz NOT NULL,
  -- Recurring jobs run again every this many seconds (on their cadence, missed runs not repeated).
  every_seconds integer     CHECK (every_seconds > 0),
  attempts      integer     NOT NULL DEFAULT 0,
  leased_until  timestamptz,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduled_job_due ON scheduled_job (run_at);
