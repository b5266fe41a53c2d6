-- Rollups (services/ingest/rollups): how far the hourly and daily rollups are computed, and the windows late
-- readings made stale. A dirty row is one (hour, quantity): ingest keeps no reading older than SUS_MAX_AGE_S, so the
-- table holds at most SUS_MAX_AGE_S / 3600 × the catalogue's quantities rows.
CREATE TABLE rollup_progress (
  rollup text PRIMARY KEY CHECK (rollup IN ('1h', '1d')),
  covered_from timestamptz NOT NULL,
  done_until timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE rollup_dirty (
  window_start timestamptz NOT NULL,
  measurement text NOT NULL,
  marked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (window_start, measurement)
);
