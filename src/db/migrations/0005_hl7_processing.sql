-- HL7 v2 processing (issue 3): mapping results on the message log, per-patient ordering, and
-- per-sender configuration stored as data.

-- The patient a message is about (PID-3 identifier chosen by the sender's preference, as sent):
-- messages with the same key are applied in arrival (id) order, one at a time (advisory lock).
ALTER TABLE hl7_message ADD COLUMN patient_key text;
-- Every PID-3 identifier value, for the message log API ("find a patient's messages").
ALTER TABLE hl7_message ADD COLUMN patient_identifiers text[] NOT NULL DEFAULT '{}';
-- What processing produced: `Type/id/_history/n` of every resource written, warnings, unmapped codes.
ALTER TABLE hl7_message ADD COLUMN resources text[] NOT NULL DEFAULT '{}';
ALTER TABLE hl7_message ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
ALTER TABLE hl7_message ADD COLUMN unmapped_codes jsonb NOT NULL DEFAULT '[]';
-- Enhanced mode: the application acknowledgement sent after processing (ack holds the accept ACK).
ALTER TABLE hl7_message ADD COLUMN app_ack bytea;
-- How many times processing was attempted (reprocessing included).
ALTER TABLE hl7_message ADD COLUMN attempts integer NOT NULL DEFAULT 0;

-- Work queue: messages stored but not yet applied, per patient in arrival order.
CREATE INDEX hl7_message_pending ON hl7_message (patient_key, id) WHERE status = 'received';
CREATE INDEX hl7_message_patient_identifiers ON hl7_message USING gin (patient_identifiers);
CREATE INDEX hl7_message_sender_status ON hl7_message (sender_application, sender_facility, status, id);

CREATE TABLE hl7_sender (
  sender_application text NOT NULL,
  sender_facility    text NOT NULL,
  config             jsonb NOT NULL,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sender_application, sender_facility)
);
