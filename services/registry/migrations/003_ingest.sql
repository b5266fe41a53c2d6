-- Ingest: a dead letter remembers its payload format (a replay decodes it the same way) and its fate.
ALTER TABLE dead_letters ADD COLUMN format text;
ALTER TABLE dead_letters ADD COLUMN status text NOT NULL DEFAULT 'new';
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_status_check CHECK (status IN ('new', 'replayed', 'discarded'));
ALTER TABLE dead_letters ADD COLUMN resolved_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN replays integer NOT NULL DEFAULT 0;
CREATE INDEX dead_letters_status_idx ON dead_letters (status, id DESC);
