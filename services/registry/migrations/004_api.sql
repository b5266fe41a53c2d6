-- Layer 3 (API): device types, decommissioning, claim codes, grants between departments and the audit of shared reads.
CREATE TABLE device_types (
  id                   text PRIMARY KEY,
  name                 text NOT NULL,
  description          text NOT NULL DEFAULT '',
  quantities           text[] NOT NULL DEFAULT '{}',
  expected_interval_s  integer NOT NULL DEFAULT 300,
  profile              jsonb NOT NULL DEFAULT '{}',
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- A decommissioned device keeps its row (and its readings) so history stays attributable.
ALTER TABLE devices ADD COLUMN decommissioned_at timestamptz;

CREATE TABLE claim_codes (
  code_hash      text PRIMARY KEY,
  department_id  text NOT NULL REFERENCES departments(id),
  type           text NOT NULL,
  name           text,
  district       text,
  lat            double precision,
  lon            double precision,
  created_by     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  used_at        timestamptz,
  device_id      text
);

CREATE TABLE grants (
  id                  text PRIMARY KEY,
  owner_department    text NOT NULL REFERENCES departments(id),
  grantee             text NOT NULL,
  title               text NOT NULL,
  purpose             text NOT NULL,
  licence             text,
  quantities          text[] NOT NULL,
  device_types        text[],
  districts           text[],
  window_from         timestamptz,
  window_to           timestamptz,
  aggregation_floor_s integer,
  update_interval_s   integer,
  created_by          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  expires_at          timestamptz NOT NULL,
  revoked_at          timestamptz
);
CREATE INDEX grants_grantee_idx ON grants (grantee);
CREATE INDEX grants_owner_idx ON grants (owner_department);

CREATE TABLE audit_log (
  id                bigserial PRIMARY KEY,
  at                timestamptz NOT NULL DEFAULT now(),
  grant_id          text NOT NULL,
  owner_department  text NOT NULL,
  reader_department text,
  key_id            text,
  route             text NOT NULL,
  query             jsonb NOT NULL
);
CREATE INDEX audit_owner_idx ON audit_log (owner_department, id DESC);
