-- The login rate limiter's counts, in fixed windows, shared by every API instance. A key is
-- 'ip <network>', 'account <account>' or 'account <account> from <network>'.
CREATE TABLE login_attempts (
    key               TEXT PRIMARY KEY,
    window_started_at TEXT NOT NULL,
    count             INTEGER NOT NULL
) STRICT;
CREATE INDEX login_attempts_started_idx ON login_attempts (window_started_at);
