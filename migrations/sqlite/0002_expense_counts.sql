-- How many expenses each user has, kept by triggers in the same transaction as every insert and
-- delete, so the unfiltered list's total is one row read instead of a count over all of them.

CREATE TABLE expense_counts (
    user_id BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    n       INTEGER NOT NULL CHECK (n >= 0)
) STRICT;

INSERT INTO expense_counts (user_id, n)
SELECT user_id, count(*) FROM expenses WHERE true GROUP BY user_id;

CREATE TRIGGER expense_counts_insert AFTER INSERT ON expenses
BEGIN
    INSERT INTO expense_counts (user_id, n) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER expense_counts_delete AFTER DELETE ON expenses
BEGIN
    UPDATE expense_counts SET n = n - 1 WHERE user_id = OLD.user_id;
END;
