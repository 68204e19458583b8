-- A monthly budget per category, beside the account's total: like the total, it applies from a
-- month onwards until a later month's replaces it. A row without an amount ends the category's
-- budget from its month on (earlier months keep theirs). Deleting the category deletes its
-- budgets.
CREATE TABLE category_budgets (
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id    uuid NOT NULL,
    effective_from date NOT NULL CHECK (extract(day FROM effective_from) = 1),
    amount_minor   bigint CHECK (amount_minor >= 0),
    currency       text CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at     timestamptz NOT NULL,
    CHECK ((amount_minor IS NULL) = (currency IS NULL)),
    PRIMARY KEY (user_id, category_id, effective_from),
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id) ON DELETE CASCADE
);
