-- Ledgerly's schema on SQLite: the same tables, keys and checks as on PostgreSQL. UUIDs are
-- 16-byte blobs, days are 'YYYY-MM-DD' text and instants RFC 3339 text in UTC, all of which
-- compare correctly as stored.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    currency      TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    time_zone     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE sessions (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE categories (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    is_default INTEGER NOT NULL CHECK (is_default IN (0, 1)),
    created_at TEXT NOT NULL,
    UNIQUE (user_id, id)
) STRICT;
CREATE UNIQUE INDEX categories_user_name_key ON categories (user_id, name_key);

CREATE TABLE receipts (
    id                BLOB PRIMARY KEY,
    user_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    object_key        TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL CHECK (kind IN ('jpeg', 'png', 'webp', 'heic', 'pdf')),
    size_bytes        INTEGER NOT NULL CHECK (size_bytes >= 0),
    sha256            TEXT NOT NULL,
    original_filename TEXT,
    category_id       BLOB,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    failure_reason    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (user_id, id),
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id)
) STRICT;
CREATE INDEX receipts_user_created_idx ON receipts (user_id, created_at DESC, id DESC);
CREATE INDEX receipts_user_sha256_idx ON receipts (user_id, sha256);

CREATE TABLE expenses (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id  BLOB NOT NULL,
    spent_on     TEXT NOT NULL,
    occurred_at  TEXT,
    vendor       TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    note         TEXT,
    needs_review INTEGER NOT NULL DEFAULT 0 CHECK (needs_review IN (0, 1)),
    receipt_id   BLOB UNIQUE,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id),
    FOREIGN KEY (user_id, receipt_id) REFERENCES receipts (user_id, id)
) STRICT;
-- Covering: the statistics read only the index.
CREATE INDEX expenses_user_day_idx
    ON expenses (user_id, spent_on, id, category_id, currency, amount_minor);
CREATE INDEX expenses_user_amount_idx ON expenses (user_id, amount_minor, id);
CREATE INDEX expenses_user_category_day_idx ON expenses (user_id, category_id, spent_on);
CREATE INDEX expenses_needs_review_idx ON expenses (user_id, spent_on) WHERE needs_review = 1;

CREATE TABLE budgets (
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    effective_from TEXT NOT NULL CHECK (substr(effective_from, 9, 2) = '01'),
    amount_minor   INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency       TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (user_id, effective_from)
) STRICT;

CREATE TABLE ocr_jobs (
    id               BLOB PRIMARY KEY,
    receipt_id       BLOB NOT NULL UNIQUE REFERENCES receipts (id) ON DELETE CASCADE,
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts > 0),
    run_after        TEXT NOT NULL,
    claim_id         BLOB,
    claimed_by       TEXT,
    lease_expires_at TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX ocr_jobs_queued_idx ON ocr_jobs (run_after, id) WHERE state = 'queued';
CREATE INDEX ocr_jobs_running_idx ON ocr_jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX ocr_jobs_user_idx ON ocr_jobs (user_id);
