-- Every currency counted: an expense keeps its own currency and amount, and the statistics
-- convert the ones not in the account's currency at the rate of their day (see
-- ledgerly_core::rates). Rates are exact decimals kept as text.
--
-- The rates a user enters: one `base` buys `rate` of `quote` from `day` on.
CREATE TABLE exchange_rates (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    base       TEXT NOT NULL CHECK (length(base) = 3 AND base = upper(base)),
    quote      TEXT NOT NULL CHECK (length(quote) = 3 AND quote = upper(quote)),
    day        TEXT NOT NULL,
    rate       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, base, quote, day),
    CHECK (base <> quote)
) STRICT;

-- The European Central Bank's reference rates, fetched by the API instances while some user
-- uses them: one euro buys `per_euro` of `currency` on `day`.
CREATE TABLE ecb_rates (
    currency   TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    day        TEXT NOT NULL,
    per_euro   TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (currency, day)
) STRICT;

ALTER TABLE users ADD COLUMN uses_ecb_rates INTEGER NOT NULL DEFAULT 0 CHECK (uses_ecb_rates IN (0, 1));

-- The statistics read every currency's rollups of the months asked for, and the days of the
-- expenses in other currencies than the account's, to convert each day at its rate.
CREATE INDEX expense_rollups_user_month_idx ON expense_rollups (user_id, month);
CREATE INDEX expenses_user_currency_day_idx
    ON expenses (user_id, currency, spent_on, category_id, amount_minor);
