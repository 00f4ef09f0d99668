-- The start of an original-mode HL7 message's transaction in one round trip
-- (Hl7Processor.storeAndProcess). It was three statements — the patient's advisory lock, the
-- insert of the received row, the read of the patient's pending rows — and the row was inserted
-- as `received` and updated to its outcome later in the same transaction: a non-HOT update (status
-- is indexed) that wrote every index of hl7_message twice. Now this function takes the lock, looks
-- for a duplicate and for earlier pending messages of the patient, and hands out the message's id;
-- the row is inserted once, with its outcome, just before the commit.
--
-- Statements inside a VOLATILE PL/pgSQL function each take a new snapshot (READ COMMITTED), so the
-- lookups after the lock see what a transaction we waited for committed — as separate statements
-- did. They are planned at each call (force_custom_plan), like cb_resolve_conditions: a plan cached
-- while hl7_message was nearly empty could scan it whole once it has grown.
--
-- The id is taken after the lock, so a patient's messages get ids (arrival order) in the order
-- they are applied.
CREATE TYPE cb_hl7_begin_result AS (new_id bigint, duplicate_id bigint, duplicate_status text, duplicate_ack bytea, earlier_pending boolean);

CREATE FUNCTION cb_hl7_begin(lock_key text, p_sender_application text, p_sender_facility text, p_control_id text, p_patient_key text)
RETURNS cb_hl7_begin_result LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_custom_plan AS $$
DECLARE
  result cb_hl7_begin_result;
BEGIN
  IF lock_key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtextextended(lock_key, 7));
  END IF;
  -- The duplicate key of hl7_message_sender_control_id (a message without MSH-10 has none).
  SELECT id, status, ack INTO result.duplicate_id, result.duplicate_status, result.duplicate_ack
    FROM hl7_message
   WHERE sender_application = p_sender_application AND sender_facility = p_sender_facility
     AND control_id = p_control_id AND status <> 'rejected';
  IF result.duplicate_id IS NOT NULL THEN
    RETURN result;
  END IF;
  result.earlier_pending := p_patient_key IS NOT NULL
    AND EXISTS (SELECT 1 FROM hl7_message WHERE patient_key = p_patient_key AND status = 'received');
  result.new_id := nextval(pg_get_serial_sequence('hl7_message', 'id'));
  RETURN result;
END
$$;
