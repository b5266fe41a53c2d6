-- Bounds: the rejects of one device beyond its dead-letter rate are counted into one summary row (`suppressed`),
-- and housekeeping deletes dead letters, device answers and audit entries past their retention (by time).
ALTER TABLE dead_letters ADD COLUMN suppressed integer NOT NULL DEFAULT 0;
CREATE INDEX device_acks_received_idx ON device_acks (received_at);
CREATE INDEX audit_log_at_idx ON audit_log (at);
