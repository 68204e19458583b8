-- Every currency counted: an expense keeps its own currency and amount, and the statistics
-- convert the ones not in the account's currency at the rate of their day (see
-- ledgerly_core::rates). Rates are exact decimals kept as text.
--
-- The rates a user enters: one `base` buys `rate` of `quote` from `day` on.
CREATE TABLE exchange_rates (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    base       text NOT NULL CHECK (base ~ '^[A-Z]{3}$'),
    quote      text NOT NULL CHECK (quote ~ '^[A-Z]{3}$'),
    day        date NOT NULL,
    rate       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, base, quote, day),
    CHECK (base <> quote)
);

-- The European Central Bank's reference rates, fetched by the API instances while some user
-- uses them: one euro buys `per_euro` of `currency` on `day`.
CREATE TABLE ecb_rates (
    currency   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    day        date NOT NULL,
    per_euro   text NOT NULL,
    fetched_at timestamptz NOT NULL,
    PRIMARY KEY (currency, day)
);

ALTER TABLE users ADD COLUMN uses_ecb_rates boolean NOT NULL DEFAULT false;

-- The statistics read every currency's rollups of the months asked for, and the days of the
-- expenses in other currencies than the account's, to convert each day at its rate.
CREATE INDEX expense_rollups_user_month_idx ON expense_rollups (user_id, month);
CREATE INDEX expenses_user_currency_day_idx ON expenses (user_id, currency, spent_on)
    INCLUDE (category_id, amount_minor);
