-- HL7 v2 message log (issue 3; DESIGN.md decision 7): every message received over MLLP is
-- committed here, raw bytes and metadata, BEFORE any acknowledgement leaves (HL7 v2.5.1 §2.9
-- "Message processing rules": the receiver must have safely stored the message before it
-- accepts it). The unique key (sending application, sending facility, MSH-10) detects
-- duplicates: a re-sent message is answered with the stored ACK and changes nothing.
CREATE TABLE hl7_message (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sender_application text NOT NULL DEFAULT '',
  sender_facility    text NOT NULL DEFAULT '',
  control_id         text,
  message_type       text,
  trigger_event      text,
  version            text,
  charset            text,
  raw                bytea NOT NULL,
  received_at        timestamptz NOT NULL DEFAULT now(),
  connection         text,
  status             text NOT NULL DEFAULT 'received'
                     CHECK (status IN ('received', 'processed', 'failed', 'rejected')),
  ack                bytea,
  error              text,
  processed_at       timestamptz
);

-- Duplicate detection. Rejected messages (AR/CR: unparseable or unsupported) changed nothing, so
-- they are left out: a corrected message re-sent with the same MSH-10 must still be processed.
-- Rows without a readable control id are never duplicates (NULLs are distinct).
CREATE UNIQUE INDEX hl7_message_sender_control_id ON hl7_message (sender_application, sender_facility, control_id)
  WHERE status <> 'rejected';

-- Message log queries: by control id, and by status over time (e.g. all failed since …).
CREATE INDEX hl7_message_control_id ON hl7_message (control_id);
CREATE INDEX hl7_message_status_received ON hl7_message (status, received_at);
