-- Registry schema v1: departments, devices, API keys, dead letters. Runs unchanged on PGlite and PostgreSQL.
CREATE TABLE departments (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  department_id  text NOT NULL REFERENCES departments(id),
  type           text NOT NULL,
  district       text,
  lat            double precision,
  lon            double precision,
  secret_hash    text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz
);
CREATE INDEX devices_department_idx ON devices (department_id);

CREATE TABLE api_keys (
  id             text PRIMARY KEY,
  name           text NOT NULL,
  department_id  text REFERENCES departments(id),
  scopes         text[] NOT NULL,
  key_hash       text NOT NULL UNIQUE,
  created_at     timestamptz NOT NULL DEFAULT now(),
  revoked_at     timestamptz
);

CREATE TABLE dead_letters (
  id            bigserial PRIMARY KEY,
  received_at   timestamptz NOT NULL DEFAULT now(),
  source        text NOT NULL,
  topic         text,
  device_id     text,
  reasons       jsonb NOT NULL,
  payload       bytea NOT NULL,
  payload_size  integer NOT NULL,
  truncated     boolean NOT NULL DEFAULT false
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received_at DESC);
CREATE INDEX dead_letters_device_idx ON dead_letters (device_id, received_at DESC);
