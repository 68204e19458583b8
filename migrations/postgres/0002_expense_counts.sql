-- How many expenses each user has, kept by triggers in the same transaction as every insert and
-- delete, so the unfiltered list's total is one row read instead of a count over all of them.
-- Statement-level triggers with transition tables keep bulk loads cheap.

CREATE TABLE expense_counts (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    n       bigint NOT NULL CHECK (n >= 0)
);

INSERT INTO expense_counts (user_id, n)
SELECT user_id, count(*) FROM expenses GROUP BY user_id;

CREATE FUNCTION expense_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO expense_counts (user_id, n)
    SELECT user_id, count(*) FROM inserted GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET n = expense_counts.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION expense_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE expense_counts c SET n = c.n - d.n
    FROM (SELECT user_id, count(*) AS n FROM deleted GROUP BY user_id) d
    WHERE c.user_id = d.user_id;
    RETURN NULL;
END $$;

CREATE TRIGGER expense_counts_insert AFTER INSERT ON expenses
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION expense_counts_after_insert();

CREATE TRIGGER expense_counts_delete AFTER DELETE ON expenses
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION expense_counts_after_delete();
