-- Rules and alerts (issue 14): rules a department keeps, one alert per rule × device with its lifecycle and history,
-- the webhook deliveries of each state change (the delivery log, and dead letters once undeliverable), silences.
CREATE TABLE alert_rules (
  id            text PRIMARY KEY,
  department_id text NOT NULL REFERENCES departments(id),
  name          text NOT NULL,
  spec          jsonb NOT NULL,
  grant_id      text,
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_department_idx ON alert_rules (department_id);

CREATE TABLE alerts (
  id            bigserial PRIMARY KEY,
  rule_id       text NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  device_id     text NOT NULL,
  department_id text NOT NULL,
  state         text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
  episode       integer NOT NULL DEFAULT 1,
  value         double precision,
  since         timestamptz NOT NULL,
  fired_at      timestamptz,
  resolved_at   timestamptz,
  acked_at      timestamptz,
  acked_by      text,
  ack_note      text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (rule_id, device_id)
);
CREATE INDEX alerts_department_idx ON alerts (department_id, id DESC);
CREATE INDEX alerts_state_idx ON alerts (state) WHERE state <> 'resolved';

CREATE TABLE alert_history (
  id        bigserial PRIMARY KEY,
  alert_id  bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  at        timestamptz NOT NULL DEFAULT now(),
  state     text NOT NULL,
  value     double precision,
  note      text
);
CREATE INDEX alert_history_alert_idx ON alert_history (alert_id, id);
CREATE INDEX alert_history_at_idx ON alert_history (at);

CREATE TABLE alert_deliveries (
  id              bigserial PRIMARY KEY,
  alert_id        bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  idempotency_key text NOT NULL UNIQUE,
  url             text NOT NULL,
  secret          text NOT NULL,
  body            text NOT NULL,
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz
);
CREATE INDEX alert_deliveries_pending_idx ON alert_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX alert_deliveries_alert_idx ON alert_deliveries (alert_id, id);
CREATE INDEX alert_deliveries_created_idx ON alert_deliveries (created_at);

CREATE TABLE silences (
  id            text PRIMARY KEY,
  department_id text NOT NULL REFERENCES departments(id),
  rule_id       text,
  device_id     text,
  reason        text NOT NULL,
  ends_at       timestamptz NOT NULL,
  created_by    text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX silences_department_idx ON silences (department_id, ends_at);
