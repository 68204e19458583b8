-- Tags: any number per expense beside its one category, named freely and created on the fly.
-- Names are unique per user ignoring case (`name_key`), like categories. A tag refers to its
-- user through the composite key, so an expense's tag is always one of the user's own tags; the
-- store writes `expense_tags` only from an expense of that same user. Deleting an expense or a
-- tag deletes its links.
CREATE TABLE tags (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    name_key   text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (user_id, name_key),
    UNIQUE (user_id, id)
);

CREATE TABLE expense_tags (
    expense_id uuid NOT NULL REFERENCES expenses (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    tag_id     uuid NOT NULL,
    PRIMARY KEY (expense_id, tag_id),
    FOREIGN KEY (user_id, tag_id) REFERENCES tags (user_id, id) ON DELETE CASCADE
);
CREATE INDEX expense_tags_tag_idx ON expense_tags (tag_id, expense_id);
