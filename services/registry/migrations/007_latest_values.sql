-- Latest-value store: the newest reading of every device × quantity, fed by ingest and read by every API node, so
-- latest reads never scan raw readings. One row per device × quantity (quantities come from the catalogue), gone
-- with the device. Times are epoch ms, as readings carry them.
CREATE TABLE latest_values (
  device_id  text NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  quantity   text NOT NULL,
  value      double precision NOT NULL,
  unit       text NOT NULL,
  time_ms    bigint NOT NULL,
  flags      text,
  PRIMARY KEY (device_id, quantity)
);

-- What a cached latest answer was built from: bumped by every batch that changed a value and by every change of a
-- device's place or kind (the answers carry type, district and location). API nodes compare it, one row, per request.
CREATE SEQUENCE latest_version;

CREATE FUNCTION latest_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('latest_version'); RETURN NULL; END $$;

CREATE TRIGGER devices_latest_version AFTER INSERT OR DELETE OR UPDATE OF department_id, type, district, lat, lon ON devices FOR EACH STATEMENT EXECUTE FUNCTION latest_version_bump();
