-- Ledgerly's schema on PostgreSQL. Money is integer minor units with its ISO 4217 code; every
-- row belongs to one user, and the composite foreign keys make a row referring to another
-- user's category or receipt impossible, not merely unlikely.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    time_zone     text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- Emails are stored lower-cased; the index makes case-insensitive uniqueness hold regardless.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE sessions (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE categories (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    name_key   text NOT NULL,
    is_default boolean NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (user_id, id)
);
CREATE UNIQUE INDEX categories_user_name_key ON categories (user_id, name_key);

CREATE TABLE receipts (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    object_key        text NOT NULL UNIQUE,
    kind              text NOT NULL CHECK (kind IN ('jpeg', 'png', 'webp', 'heic', 'pdf')),
    size_bytes        bigint NOT NULL CHECK (size_bytes >= 0),
    sha256            text NOT NULL,
    original_filename text,
    category_id       uuid,
    status            text NOT NULL CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    failure_reason    text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (user_id, id),
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id)
);
CREATE INDEX receipts_user_created_idx ON receipts (user_id, created_at DESC, id DESC);
CREATE INDEX receipts_user_sha256_idx ON receipts (user_id, sha256);

CREATE TABLE expenses (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id  uuid NOT NULL,
    spent_on     date NOT NULL,
    occurred_at  timestamptz,
    vendor       text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    note         text,
    needs_review boolean NOT NULL DEFAULT false,
    receipt_id   uuid UNIQUE,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id),
    FOREIGN KEY (user_id, receipt_id) REFERENCES receipts (user_id, id)
);
-- The list (newest first, any depth) and every statistic are range scans of one user's days;
-- the included columns let the statistics run as index-only scans.
CREATE INDEX expenses_user_day_idx ON expenses (user_id, spent_on, id)
    INCLUDE (category_id, currency, amount_minor);
CREATE INDEX expenses_user_amount_idx ON expenses (user_id, amount_minor, id);
CREATE INDEX expenses_user_category_day_idx ON expenses (user_id, category_id, spent_on);
CREATE INDEX expenses_needs_review_idx ON expenses (user_id, spent_on) WHERE needs_review;
CREATE INDEX expenses_vendor_trgm_idx ON expenses USING gin (vendor gin_trgm_ops);

CREATE TABLE budgets (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    effective_from date NOT NULL CHECK (extract(day FROM effective_from) = 1),
    amount_minor   bigint NOT NULL CHECK (amount_minor >= 0),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (user_id, effective_from)
);

CREATE TABLE ocr_jobs (
    id               uuid PRIMARY KEY,
    receipt_id       uuid NOT NULL UNIQUE REFERENCES receipts (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state            text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL CHECK (max_attempts > 0),
    run_after        timestamptz NOT NULL,
    claim_id         uuid,
    claimed_by       text,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX ocr_jobs_queued_idx ON ocr_jobs (run_after, id) WHERE state = 'queued';
CREATE INDEX ocr_jobs_running_idx ON ocr_jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX ocr_jobs_user_idx ON ocr_jobs (user_id);
