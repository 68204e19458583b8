-- Tags: any number per expense beside its one category, named freely and created on the fly.
-- Names are unique per user ignoring case (`name_key`), like categories. A tag refers to its
-- user through the composite key, so an expense's tag is always one of the user's own tags; the
-- store writes `expense_tags` only from an expense of that same user. Deleting an expense or a
-- tag deletes its links.
CREATE TABLE tags (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, name_key),
    UNIQUE (user_id, id)
) STRICT;

CREATE TABLE expense_tags (
    expense_id BLOB NOT NULL REFERENCES expenses (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL,
    tag_id     BLOB NOT NULL,
    PRIMARY KEY (expense_id, tag_id),
    FOREIGN KEY (user_id, tag_id) REFERENCES tags (user_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX expense_tags_tag_idx ON expense_tags (tag_id, expense_id);
