-- Complete search: token display text (:text) and identifier type (:of-type), UCUM canonical
-- quantities, composite
-- parameters, and a job table for $reindex. See docs/implementation/search.md.

ALTER TABLE search_token ADD COLUMN display text;   -- normalised display/text, for :text
ALTER TABLE search_token ADD COLUMN type text;      -- Identifier.type coding as system|code, for :of-type
CREATE INDEX search_token_display ON search_token (resource_type, code, display text_pattern_ops) WHERE display IS NOT NULL;

-- Quantities in UCUM units also in canonical form (140 g/L and 14 g/dL → 140000 g.m-3).
ALTER TABLE search_quantity ADD COLUMN canonical_unit text;
ALTER TABLE search_quantity ADD COLUMN canonical_value numeric;
CREATE INDEX search_quantity_canonical ON search_quantity (resource_type, code, canonical_unit, canonical_value) WHERE canonical_unit IS NOT NULL;

-- Composite parameters (code-value-quantity, component-code-value-concept, …): one row per
-- element the composite's expression selects, with its first (token) component and its second
-- component in the column its type uses.
CREATE TABLE search_composite (
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  code          text NOT NULL,
  c1_system     text,
  c1_value      text,
  c2_system     text,            -- token or quantity system
  c2_value      text,            -- token code, string (normalised), quantity unit
  c2_number     numeric,         -- quantity or number value
  c2_low        timestamptz,     -- date range
  c2_high       timestamptz
);
CREATE INDEX search_composite_value ON search_composite (resource_type, code, c1_value, c2_value);
CREATE INDEX search_composite_resource ON search_composite (resource_type, resource_id);

-- Asynchronous $reindex jobs and their progress.
CREATE TABLE reindex_job (
  id             text        PRIMARY KEY,
  resource_types text[]      NOT NULL,
  status         text        NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  total          integer,
  processed      integer     NOT NULL DEFAULT 0,
  cursor_type    text,
  cursor_id      text,
  error          text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
