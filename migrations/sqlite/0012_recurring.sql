-- Recurring expenses: a rule (who is paid, how much, in which category) and its schedule
-- (`unit`, `every`, `starts_on`, `ends_on`, `day_of_month`; see ledgerly_core::recurring).
-- `next_index` is the occurrence the rule makes next and `next_on` its date, kept by the store:
-- NULL once the schedule has ended. The generator makes a due rule's expenses and moves
-- `next_index` on in one write transaction; the unique index on `(recurring_id, recurring_on)`
-- holds "each occurrence once" even against a bug in that.
CREATE TABLE recurring_rules (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id  BLOB NOT NULL,
    vendor       TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency     TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    note         TEXT,
    unit         TEXT NOT NULL CHECK (unit IN ('day', 'week', 'month', 'year')),
    every        INTEGER NOT NULL CHECK (every >= 1),
    starts_on    TEXT NOT NULL,
    ends_on      TEXT,
    day_of_month INTEGER CHECK (day_of_month BETWEEN 1 AND 31),
    next_index   INTEGER NOT NULL CHECK (next_index >= 0),
    next_on      TEXT,
    paused       INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (user_id, id),
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id)
) STRICT;
CREATE INDEX recurring_rules_user_idx ON recurring_rules (user_id, created_at);
CREATE INDEX recurring_rules_due_idx ON recurring_rules (next_on)
    WHERE NOT paused AND next_on IS NOT NULL;

-- Occurrences the user chose to skip: the generator passes over them.
CREATE TABLE recurring_skips (
    rule_id   BLOB NOT NULL REFERENCES recurring_rules (id) ON DELETE CASCADE,
    occurs_on TEXT NOT NULL,
    PRIMARY KEY (rule_id, occurs_on)
) STRICT;

-- The rule an expense was made by and the occurrence it is (its own date may be edited later).
-- Deleting the rule leaves its expenses, unmarked.
ALTER TABLE expenses ADD COLUMN recurring_id BLOB REFERENCES recurring_rules (id) ON DELETE SET NULL;
ALTER TABLE expenses ADD COLUMN recurring_on TEXT;
CREATE UNIQUE INDEX expenses_recurring_key ON expenses (recurring_id, recurring_on)
    WHERE recurring_id IS NOT NULL;
