-- FHIR store: current versions, history, search indexes and the event outbox.
-- See docs/implementation/fhir-store.md for the concepts and a worked example.

-- The current version of every resource (deleted ones too: a delete is a version).
CREATE TABLE fhir_resource (
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    integer     NOT NULL,
  last_updated  timestamptz NOT NULL,
  deleted       boolean     NOT NULL,
  content       text,                       -- the resource JSON as served; NULL when deleted
  PRIMARY KEY (resource_type, id)
);
CREATE INDEX fhir_resource_type_updated ON fhir_resource (resource_type, last_updated);
CREATE INDEX fhir_resource_updated ON fhir_resource (last_updated);

-- Every earlier version. A version moves here when a newer one replaces it in fhir_resource,
-- so creates write their content once and reads touch one table.
CREATE TABLE fhir_resource_history (
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    integer     NOT NULL,
  last_updated  timestamptz NOT NULL,
  deleted       boolean     NOT NULL,
  content       text,
  PRIMARY KEY (resource_type, id, version_id)
);
CREATE INDEX fhir_resource_history_type_updated ON fhir_resource_history (resource_type, last_updated);
CREATE INDEX fhir_resource_history_updated ON fhir_resource_history (last_updated);

-- Search indexes: one row per (resource, parameter, value), for current, non-deleted versions only.
-- They are rewritten in the same statement as the resource, so a search never sees a stale version.
CREATE TABLE search_token (
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  code          text NOT NULL,
  system        text,
  value         text
);
CREATE INDEX search_token_value ON search_token (resource_type, code, value, system);
CREATE INDEX search_token_resource ON search_token (resource_type, resource_id);

CREATE TABLE search_string (
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  code          text NOT NULL,
  value         text NOT NULL,              -- lower-cased, accents removed (see normalizeString)
  raw           text NOT NULL               -- as written, for :exact
);
CREATE INDEX search_string_value ON search_string (resource_type, code, value text_pattern_ops);
CREATE INDEX search_string_resource ON search_string (resource_type, resource_id);

CREATE TABLE search_date (
  resource_type text        NOT NULL,
  resource_id   text        NOT NULL,
  code          text        NOT NULL,
  low           timestamptz NOT NULL,       -- start of the value's range ('-infinity' when open)
  high          timestamptz NOT NULL        -- end of the value's range ('infinity' when open)
);
CREATE INDEX search_date_low ON search_date (resource_type, code, low);
CREATE INDEX search_date_high ON search_date (resource_type, code, high);
CREATE INDEX search_date_resource ON search_date (resource_type, resource_id);

CREATE TABLE search_number (
  resource_type text    NOT NULL,
  resource_id   text    NOT NULL,
  code          text    NOT NULL,
  low           numeric,
  high          numeric
);
CREATE INDEX search_number_value ON search_number (resource_type, code, low);
CREATE INDEX search_number_resource ON search_number (resource_type, resource_id);

CREATE TABLE search_quantity (
  resource_type text    NOT NULL,
  resource_id   text    NOT NULL,
  code          text    NOT NULL,
  system        text,
  unit          text,                       -- Quantity.code, else Quantity.unit
  value         numeric NOT NULL
);
CREATE INDEX search_quantity_value ON search_quantity (resource_type, code, value);
CREATE INDEX search_quantity_resource ON search_quantity (resource_type, resource_id);

CREATE TABLE search_reference (
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  code          text NOT NULL,
  target_type   text,                       -- set for relative references Type/id
  target_id     text,
  reference     text NOT NULL               -- the reference as written (absolute, canonical, relative)
);
CREATE INDEX search_reference_target ON search_reference (resource_type, code, target_id, target_type);
CREATE INDEX search_reference_reverse ON search_reference (target_type, target_id);
CREATE INDEX search_reference_value ON search_reference (resource_type, code, reference);
CREATE INDEX search_reference_resource ON search_reference (resource_type, resource_id);

CREATE TABLE search_uri (
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  code          text NOT NULL,
  value         text NOT NULL
);
CREATE INDEX search_uri_value ON search_uri (resource_type, code, value);
CREATE INDEX search_uri_resource ON search_uri (resource_type, resource_id);

-- The outbox: one event per committed version, written in the same transaction as the version.
-- transaction_id lets a consumer wait until every lower event id has committed or aborted.
CREATE TABLE fhir_event (
  event_id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  resource_type  text        NOT NULL,
  resource_id    text        NOT NULL,
  version_id     integer     NOT NULL,
  interaction    text        NOT NULL CHECK (interaction IN ('create', 'update', 'delete')),
  occurred_at    timestamptz NOT NULL,
  transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX fhir_event_resource ON fhir_event (resource_type, resource_id, version_id);
