-- Each user's spending per month, category and currency: a total and a count, kept by triggers
-- in the same transaction as every insert, update and delete of an expense, so the statistics
-- read at most a row per category and month instead of aggregating every expense of the year.
-- Triggers (not the store's own writes) so that every writer keeps them right: the store, the
-- OCR result applied in a job's transaction, a category's expenses moved before it is deleted, a
-- user's expenses deleted with the account, and a bulk load in plain SQL. docs/store.md has the
-- reasons.

CREATE TABLE expense_rollups (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    currency    text NOT NULL,
    -- The month's first day.
    month       date NOT NULL,
    category_id uuid NOT NULL,
    total_minor bigint NOT NULL,
    n           bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (user_id, currency, month, category_id)
);

INSERT INTO expense_rollups (user_id, currency, month, category_id, total_minor, n)
SELECT user_id, currency, CAST(date_trunc('month', CAST(spent_on AS timestamp)) AS date),
       category_id, CAST(SUM(amount_minor) AS bigint), count(*)
FROM expenses GROUP BY 1, 2, 3, 4;

-- What a statement changes in one rollup row.
CREATE TYPE expense_rollup_delta AS (
    user_id     uuid,
    currency    text,
    month       date,
    category_id uuid,
    total_minor bigint,
    n           bigint
);

-- Adds the deltas to the rollups. The rows are locked in key order first, so two transactions
-- moving expenses between the same two rows in opposite directions wait for each other instead
-- of deadlocking. A delta that adds expenses to a key may create its row; the others change a
-- row that must exist (the expenses they take away are counted in it). A row left with no
-- expense is deleted.
CREATE FUNCTION expense_rollups_add(deltas expense_rollup_delta[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM expense_rollups r JOIN unnest(deltas) d
        ON (r.user_id, r.currency, r.month, r.category_id) = (d.user_id, d.currency, d.month, d.category_id)
    ORDER BY r.user_id, r.currency, r.month, r.category_id
    FOR UPDATE OF r;

    INSERT INTO expense_rollups (user_id, currency, month, category_id, total_minor, n)
    SELECT d.user_id, d.currency, d.month, d.category_id, d.total_minor, d.n
    FROM unnest(deltas) d WHERE d.n > 0
    ORDER BY d.user_id, d.currency, d.month, d.category_id
    ON CONFLICT (user_id, currency, month, category_id) DO UPDATE
        SET total_minor = expense_rollups.total_minor + excluded.total_minor,
            n = expense_rollups.n + excluded.n;

    UPDATE expense_rollups r
        SET total_minor = r.total_minor + d.total_minor, n = r.n + d.n
    FROM unnest(deltas) d
    WHERE d.n <= 0
      AND (r.user_id, r.currency, r.month, r.category_id) = (d.user_id, d.currency, d.month, d.category_id);

    DELETE FROM expense_rollups r USING unnest(deltas) d
    WHERE r.n = 0
      AND (r.user_id, r.currency, r.month, r.category_id) = (d.user_id, d.currency, d.month, d.category_id);
END $$;

-- Inserts only add: one upsert, in key order (as the other functions lock), is the whole of it.
-- The insert of a single expense is the commonest write, and this statement holds its row's lock
-- for the shortest time.
CREATE FUNCTION expense_rollups_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO expense_rollups (user_id, currency, month, category_id, total_minor, n)
    SELECT user_id, currency, CAST(date_trunc('month', CAST(spent_on AS timestamp)) AS date),
           category_id, CAST(SUM(amount_minor) AS bigint), count(*)
    FROM inserted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (user_id, currency, month, category_id) DO UPDATE
        SET total_minor = expense_rollups.total_minor + excluded.total_minor,
            n = expense_rollups.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION expense_rollups_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM expense_rollups_add(ARRAY(
        SELECT ROW(g.*)::expense_rollup_delta FROM (
            SELECT user_id, currency, CAST(date_trunc('month', CAST(spent_on AS timestamp)) AS date),
                   category_id, -CAST(SUM(amount_minor) AS bigint), -count(*)
            FROM deleted GROUP BY 1, 2, 3, 4) g));
    RETURN NULL;
END $$;

-- Only the keys whose total or count changed: an update of a vendor or a note changes nothing.
CREATE FUNCTION expense_rollups_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM expense_rollups_add(ARRAY(
        SELECT ROW(user_id, currency, month, category_id,
                   CAST(SUM(total_minor) AS bigint), CAST(SUM(n) AS bigint))::expense_rollup_delta
        FROM (
            SELECT user_id, currency, CAST(date_trunc('month', CAST(spent_on AS timestamp)) AS date) AS month,
                   category_id, amount_minor AS total_minor, 1 AS n
            FROM updated_new
            UNION ALL
            SELECT user_id, currency, CAST(date_trunc('month', CAST(spent_on AS timestamp)) AS date),
                   category_id, -amount_minor, -1
            FROM updated_old
        ) changes
        GROUP BY user_id, currency, month, category_id
        HAVING SUM(total_minor) <> 0 OR SUM(n) <> 0));
    RETURN NULL;
END $$;

CREATE TRIGGER expense_rollups_insert AFTER INSERT ON expenses
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION expense_rollups_after_insert();

CREATE TRIGGER expense_rollups_delete AFTER DELETE ON expenses
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION expense_rollups_after_delete();

CREATE TRIGGER expense_rollups_update AFTER UPDATE ON expenses
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new FOR EACH STATEMENT
    EXECUTE FUNCTION expense_rollups_after_update();
