-- Personal API tokens: what scripts and apps sign in with instead of a login session. Named,
-- read or read-write, expiring; only a SHA-256 of the secret is kept. Deleting the account
-- deletes them; a password change leaves them (they are revoked one by one).
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    name_key     text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('read', 'read_write')),
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz
);
CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash);
CREATE UNIQUE INDEX api_tokens_user_name_key ON api_tokens (user_id, name_key);
