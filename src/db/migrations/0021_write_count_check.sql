-- The statement that writes a batch of versions (src/fhir/store/write-versions.ts) checks what it
-- wrote itself: as many inserts and updates as the caller planned, else it fails — with
-- serialization_failure, so the transaction is retried, as the client's own check (WriteRaceError)
-- did. In the statement, a wrong count fails the transaction even when the client sent its COMMIT
-- before reading the statement's answer (db/pool.ts: statements sent behind one in flight).
CREATE FUNCTION cb_check_written(inserted int, updated int, expected_inserted int, expected_updated int)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF inserted <> expected_inserted OR updated <> expected_updated THEN
    RAISE EXCEPTION 'wrote % inserts and % updates, expected % and %', inserted, updated, expected_inserted, expected_updated
      USING ERRCODE = 'serialization_failure';
  END IF;
END
$$;
