-- Each user's spending per month, category and currency: a total and a count, kept by triggers
-- in the same transaction as every insert, update and delete of an expense, so the statistics
-- read at most a row per category and month instead of aggregating every expense of the year.
-- docs/store.md has the reasons for triggers.

CREATE TABLE expense_rollups (
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    currency    TEXT NOT NULL,
    -- The month's first day, YYYY-MM-DD.
    month       TEXT NOT NULL,
    category_id BLOB NOT NULL,
    total_minor INTEGER NOT NULL,
    n           INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (user_id, currency, month, category_id)
) STRICT, WITHOUT ROWID;

INSERT INTO expense_rollups (user_id, currency, month, category_id, total_minor, n)
SELECT user_id, currency, date(spent_on, 'start of month'), category_id, SUM(amount_minor), count(*)
FROM expenses WHERE true GROUP BY 1, 2, 3, 4;

CREATE TRIGGER expense_rollups_insert AFTER INSERT ON expenses
BEGIN
    INSERT INTO expense_rollups (user_id, currency, month, category_id, total_minor, n)
    VALUES (NEW.user_id, NEW.currency, date(NEW.spent_on, 'start of month'), NEW.category_id,
            NEW.amount_minor, 1)
    ON CONFLICT (user_id, currency, month, category_id) DO UPDATE
        SET total_minor = total_minor + excluded.total_minor, n = n + 1;
END;

CREATE TRIGGER expense_rollups_delete AFTER DELETE ON expenses
BEGIN
    UPDATE expense_rollups SET total_minor = total_minor - OLD.amount_minor, n = n - 1
    WHERE user_id = OLD.user_id AND currency = OLD.currency
      AND month = date(OLD.spent_on, 'start of month') AND category_id = OLD.category_id;
    DELETE FROM expense_rollups
    WHERE user_id = OLD.user_id AND currency = OLD.currency
      AND month = date(OLD.spent_on, 'start of month') AND category_id = OLD.category_id AND n = 0;
END;

-- Only an update that moves an expense or changes its amount: a vendor or a note changes nothing.
CREATE TRIGGER expense_rollups_update AFTER UPDATE OF user_id, currency, spent_on, category_id, amount_minor
ON expenses
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.currency IS NOT NEW.currency
  OR date(OLD.spent_on, 'start of month') IS NOT date(NEW.spent_on, 'start of month')
  OR OLD.category_id IS NOT NEW.category_id OR OLD.amount_minor IS NOT NEW.amount_minor
BEGIN
    UPDATE expense_rollups SET total_minor = total_minor - OLD.amount_minor, n = n - 1
    WHERE user_id = OLD.user_id AND currency = OLD.currency
      AND month = date(OLD.spent_on, 'start of month') AND category_id = OLD.category_id;
    DELETE FROM expense_rollups
    WHERE user_id = OLD.user_id AND currency = OLD.currency
      AND month = date(OLD.spent_on, 'start of month') AND category_id = OLD.category_id AND n = 0;
    INSERT INTO expense_rollups (user_id, currency, month, category_id, total_minor, n)
    VALUES (NEW.user_id, NEW.currency, date(NEW.spent_on, 'start of month'), NEW.category_id,
            NEW.amount_minor, 1)
    ON CONFLICT (user_id, currency, month, category_id) DO UPDATE
        SET total_minor = total_minor + excluded.total_minor, n = n + 1;
END;
