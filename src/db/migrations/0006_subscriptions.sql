-- Subscription engine (issue 5; DESIGN.md decision 8). Events come from the outbox fhir_event,
-- written in the same transaction as every resource write.

-- How far the dispatcher has read the outbox. A position is (transaction id, event id): events are
-- read only from transactions older than every transaction still running (pg_snapshot_xmin), in
-- that order, so an event committed late by a long transaction is never skipped. One row; the
-- dispatcher locks it, so dispatchers on several server processes take turns.
CREATE TABLE subscription_dispatch_cursor (
  singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  transaction_id xid8    NOT NULL DEFAULT '0'::xid8,
  event_id       bigint  NOT NULL DEFAULT 0
);
INSERT INTO subscription_dispatch_cursor DEFAULT VALUES;

-- Per subscription: its event counter (gap-free, monotonic event numbers) and delivery state.
CREATE TABLE subscription_state (
  subscription_id    text        PRIMARY KEY,
  events_since_start bigint      NOT NULL DEFAULT 0,
  -- When the head notification first failed (the retry horizon runs from here); NULL when healthy.
  failing_since      timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Numbered notifications, kept after delivery (replay). Delivered in event_number order per
-- subscription: only the lowest pending one of a subscription is ever attempted.
CREATE TABLE subscription_notification (
  subscription_id text        NOT NULL,
  event_number    bigint      NOT NULL,
  event_id        bigint      NOT NULL,
  resource_type   text        NOT NULL,
  resource_id     text        NOT NULL,
  version_id      integer     NOT NULL,
  interaction     text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  leased_until    timestamptz,
  last_error      text,
  delivered_at    timestamptz,
  PRIMARY KEY (subscription_id, event_number)
);
CREATE INDEX subscription_notification_pending ON subscription_notification (subscription_id, event_number) WHERE status = 'pending';

-- The dispatcher reads the outbox by position.
CREATE INDEX fhir_event_position ON fhir_event (transaction_id, event_id);
