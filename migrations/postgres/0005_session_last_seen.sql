-- When each session was last used (to the minute): a session unused for `auth.idle_hours` ends,
-- whatever its absolute lifetime left.
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE sessions ALTER COLUMN last_seen_at SET NOT NULL;
