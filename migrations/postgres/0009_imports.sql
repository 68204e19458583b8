-- CSV imports: an uploaded file waits here, with the settings it is read with, while its owner
-- checks the preview; committing writes its expenses in one transaction and empties `content`.
-- Uncommitted imports are deleted after a day (by the next upload of that user).
CREATE TABLE imports (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name          text NOT NULL,
    content            bytea NOT NULL,
    settings           text NOT NULL,
    created_at         timestamptz NOT NULL,
    committed_at       timestamptz,
    created_count      bigint,
    duplicates_skipped bigint,
    CHECK ((committed_at IS NULL) = (created_count IS NULL))
);
CREATE INDEX imports_user_created_idx ON imports (user_id, created_at);

-- The settings last committed for a kind of file (its shape: delimiter and header), so next
-- month's statement from the same bank is read the same way without asking again.
CREATE TABLE import_shapes (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shape      text NOT NULL,
    settings   text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, shape)
);
