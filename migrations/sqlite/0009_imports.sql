-- CSV imports: an uploaded file waits here, with the settings it is read with, while its owner
-- checks the preview; committing writes its expenses in one transaction and empties `content`.
-- Uncommitted imports are deleted after a day (by the next upload of that user).
CREATE TABLE imports (
    id                 BLOB PRIMARY KEY,
    user_id            BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name          TEXT NOT NULL,
    content            BLOB NOT NULL,
    settings           TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    committed_at       TEXT,
    created_count      INTEGER,
    duplicates_skipped INTEGER,
    CHECK ((committed_at IS NULL) = (created_count IS NULL))
) STRICT;
CREATE INDEX imports_user_created_idx ON imports (user_id, created_at);

-- The settings last committed for a kind of file (its shape: delimiter and header), so next
-- month's statement from the same bank is read the same way without asking again.
CREATE TABLE import_shapes (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shape      TEXT NOT NULL,
    settings   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, shape)
) STRICT;
