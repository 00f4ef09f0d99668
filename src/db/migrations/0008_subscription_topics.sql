-- Topic-based subscriptions (R5 Backport IG for R4; issue 5).

-- When the event happened (the outbox's occurred_at): the notification's timestamp. Older rows
-- have none; their created_at (when they were numbered) stands in.
ALTER TABLE subscription_notification ADD COLUMN occurred_at timestamptz;

-- When something (a notification, a handshake or a heartbeat) was last sent: heartbeats are due
-- when nothing was sent for the subscription's heartbeat period. Claimed with an UPDATE, so one
-- server process sends each heartbeat.
ALTER TABLE subscription_state ADD COLUMN last_sent_at timestamptz;

-- Websocket binding tokens ($get-ws-binding-token): only a hash is stored; a token binds its
-- subscriptions on any server process until it expires.
CREATE TABLE subscription_ws_token (
  token_hash       text        PRIMARY KEY,
  subscription_ids text[]      NOT NULL,
  expires_at       timestamptz NOT NULL
);
CREATE INDEX subscription_ws_token_expiry ON subscription_ws_token (expires_at);

-- An event is numbered once per subscription: a dispatcher that read an event twice fails loudly
-- (the pass is retried) instead of notifying it twice under a new number.
CREATE UNIQUE INDEX subscription_notification_event ON subscription_notification (subscription_id, event_id);
