-- Recurring expenses: a rule (who is paid, how much, in which category) and its schedule
-- (`unit`, `every`, `starts_on`, `ends_on`, `day_of_month`; see ledgerly_core::recurring).
-- `next_index` is the occurrence the rule makes next and `next_on` its date, kept by the store:
-- NULL once the schedule has ended. The generator claims a due rule (`next_on` reached, not
-- paused) with `FOR UPDATE SKIP LOCKED`, makes its expenses and moves `next_index` on in one
-- transaction, so several API instances never make an occurrence twice; the unique index on
-- `(recurring_id, recurring_on)` holds that even against a bug in the claim.
CREATE TABLE recurring_rules (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id  uuid NOT NULL,
    vendor       text NOT NULL,
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    note         text,
    unit         text NOT NULL CHECK (unit IN ('day', 'week', 'month', 'year')),
    every        integer NOT NULL CHECK (every >= 1),
    starts_on    date NOT NULL,
    ends_on      date,
    day_of_month integer CHECK (day_of_month BETWEEN 1 AND 31),
    next_index   integer NOT NULL CHECK (next_index >= 0),
    next_on      date,
    paused       boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    UNIQUE (user_id, id),
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id)
);
CREATE INDEX recurring_rules_user_idx ON recurring_rules (user_id, created_at);
CREATE INDEX recurring_rules_due_idx ON recurring_rules (next_on)
    WHERE NOT paused AND next_on IS NOT NULL;

-- Occurrences the user chose to skip: the generator passes over them.
CREATE TABLE recurring_skips (
    rule_id   uuid NOT NULL REFERENCES recurring_rules (id) ON DELETE CASCADE,
    occurs_on date NOT NULL,
    PRIMARY KEY (rule_id, occurs_on)
);

-- The rule an expense was made by and the occurrence it is (its own date may be edited later).
-- Deleting the rule leaves its expenses, unmarked.
ALTER TABLE expenses ADD COLUMN recurring_id uuid REFERENCES recurring_rules (id) ON DELETE SET NULL;
ALTER TABLE expenses ADD COLUMN recurring_on date;
CREATE UNIQUE INDEX expenses_recurring_key ON expenses (recurring_id, recurring_on)
    WHERE recurring_id IS NOT NULL;
