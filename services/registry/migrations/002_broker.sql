-- Broker (layer 1): downlink commands, desired configuration per device, the devices' answers on …/ack.
CREATE TABLE device_commands (
  id            bigserial PRIMARY KEY,
  device_id     text NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  name          text NOT NULL,
  args          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text,
  acked_at      timestamptz,
  ack_status    text
);
CREATE INDEX device_commands_device_idx ON device_commands (device_id, id DESC);

CREATE TABLE device_desired_config (
  device_id     text PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
  version       integer NOT NULL,
  config        jsonb NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  acked_version integer,
  acked_at      timestamptz
);

CREATE TABLE device_acks (
  id            bigserial PRIMARY KEY,
  device_id     text NOT NULL,
  topic         text NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  command_id    bigint,
  config_version integer,
  status        text,
  payload       text NOT NULL
);
CREATE INDEX device_acks_device_idx ON device_acks (device_id, id DESC);
