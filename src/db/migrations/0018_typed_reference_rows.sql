-- Reference parameters restricted to one target type — Observation `patient` is
-- `subject.where(resolve() is Patient)` — repeated the rows of the parameter they restrict: a
-- reference row, with its three index entries, in every clinical resource. They are no longer
-- written: a query of one reads the other's rows with that target type
-- (src/fhir/search/typed-references.ts). The rows written before are removed here; nothing reads
-- them either way. The pairs are R4's (typed-references.test.ts checks this list against them).
DELETE FROM search_reference WHERE (resource_type, code) IN (VALUES
  ('Account', 'patient'), ('Appointment', 'location'), ('Appointment', 'patient'),
  ('Appointment', 'practitioner'), ('AppointmentResponse', 'location'),
  ('AppointmentResponse', 'patient'), ('AppointmentResponse', 'practitioner'),
  ('Basic', 'patient'), ('CarePlan', 'patient'), ('CareTeam', 'patient'),
  ('ChargeItem', 'patient'), ('ClinicalImpression', 'patient'), ('Communication', 'patient'),
  ('CommunicationRequest', 'patient'), ('Composition', 'patient'), ('Condition', 'patient'),
  ('Contract', 'patient'), ('DeviceRequest', 'patient'), ('DiagnosticReport', 'patient'),
  ('DocumentManifest', 'patient'), ('DocumentReference', 'patient'), ('Encounter', 'patient'),
  ('Encounter', 'practitioner'), ('Flag', 'patient'), ('Goal', 'patient'),
  ('GuidanceResponse', 'patient'), ('ImagingStudy', 'patient'), ('Invoice', 'patient'),
  ('List', 'patient'), ('MeasureReport', 'patient'), ('Media', 'patient'),
  ('MedicationAdministration', 'patient'), ('MedicationDispense', 'patient'),
  ('MedicationRequest', 'patient'), ('MedicationStatement', 'patient'), ('Observation', 'patient'),
  ('Person', 'patient'), ('Person', 'practitioner'), ('Person', 'relatedperson'),
  ('Procedure', 'patient'), ('Provenance', 'patient'), ('QuestionnaireResponse', 'patient'),
  ('RequestGroup', 'patient'), ('RiskAssessment', 'patient'), ('ServiceRequest', 'patient'),
  ('Specimen', 'patient'), ('Task', 'patient')
);
