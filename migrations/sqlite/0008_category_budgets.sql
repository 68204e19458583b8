-- A monthly budget per category, beside the account's total: like the total, it applies from a
-- month onwards until a later month's replaces it. A row without an amount ends the category's
-- budget from its month on (earlier months keep theirs). Deleting the category deletes its
-- budgets.
CREATE TABLE category_budgets (
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    category_id    BLOB NOT NULL,
    effective_from TEXT NOT NULL CHECK (substr(effective_from, 9, 2) = '01'),
    amount_minor   INTEGER CHECK (amount_minor >= 0),
    currency       TEXT CHECK (length(currency) = 3 AND currency = upper(currency)),
    updated_at     TEXT NOT NULL,
    CHECK ((amount_minor IS NULL) = (currency IS NULL)),
    PRIMARY KEY (user_id, category_id, effective_from),
    FOREIGN KEY (user_id, category_id) REFERENCES categories (user_id, id) ON DELETE CASCADE
) STRICT;
