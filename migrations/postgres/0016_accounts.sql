-- Who may use an instance: its administrators (the first account is one), the accounts an
-- administrator disabled, when each account was last seen, and the single-use, expiring invites
-- new accounts register with when registration is by invitation.
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'member'
    CHECK (role IN ('admin', 'member'));
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
ALTER TABLE users ADD COLUMN last_seen_at timestamptz;
-- An instance that has accounts already: the oldest becomes its administrator.
UPDATE users SET role = 'admin'
    WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1);
UPDATE users SET last_seen_at = (SELECT max(s.last_seen_at) FROM sessions s WHERE s.user_id = users.id);

-- Only a SHA-256 of an invite's secret is kept. `used_by` is the account it made.
CREATE TABLE invites (
    id         uuid PRIMARY KEY,
    token_hash bytea NOT NULL,
    note       text NOT NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    used_by    uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX invites_token_hash_key ON invites (token_hash);
CREATE INDEX invites_created_idx ON invites (created_at DESC);

-- Password resets: single use, expiring; only a SHA-256 of the link's secret is kept.
-- `created_by` is the administrator who made the link (NULL: asked for by email).
CREATE TABLE password_resets (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE UNIQUE INDEX password_resets_token_hash_key ON password_resets (token_hash);
CREATE INDEX password_resets_user_idx ON password_resets (user_id, created_at);
