-- Full-text search over what a person remembers of an expense: its vendor, its note and the
-- text OCR read off its receipt, in one FTS5 row per expense. `remove_diacritics` lets "cafe"
-- find "Café"; the query matches each word as a prefix. LIKE on the vendor stays for partial
-- vendors ("tok" finds "Blue Tokai").
--
-- An FTS5 row is keyed by an integer, and the expenses' own rowid is not stable (VACUUM may
-- renumber a table without an INTEGER PRIMARY KEY), so `expense_search_keys` gives each expense
-- a stable number that keys its search row.
ALTER TABLE receipts ADD COLUMN ocr_text TEXT;

CREATE TABLE expense_search_keys (
    n          INTEGER PRIMARY KEY,
    expense_id BLOB NOT NULL UNIQUE
) STRICT;

CREATE VIRTUAL TABLE expense_search USING fts5(
    vendor, note, ocr_text, tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO expense_search_keys (expense_id) SELECT id FROM expenses;
INSERT INTO expense_search (rowid, vendor, note, ocr_text)
    SELECT k.n, e.vendor, e.note, NULL
    FROM expense_search_keys k JOIN expenses e ON e.id = k.expense_id;

CREATE TRIGGER expense_search_insert AFTER INSERT ON expenses
BEGIN
    INSERT INTO expense_search_keys (expense_id) VALUES (NEW.id);
    INSERT INTO expense_search (rowid, vendor, note, ocr_text) VALUES (
        (SELECT n FROM expense_search_keys WHERE expense_id = NEW.id), NEW.vendor, NEW.note,
        (SELECT ocr_text FROM receipts WHERE id = NEW.receipt_id));
END;

CREATE TRIGGER expense_search_delete AFTER DELETE ON expenses
BEGIN
    DELETE FROM expense_search
        WHERE rowid = (SELECT n FROM expense_search_keys WHERE expense_id = OLD.id);
    DELETE FROM expense_search_keys WHERE expense_id = OLD.id;
END;

CREATE TRIGGER expense_search_update AFTER UPDATE OF vendor, note, receipt_id ON expenses
BEGIN
    UPDATE expense_search SET vendor = NEW.vendor, note = NEW.note,
        ocr_text = (SELECT ocr_text FROM receipts WHERE id = NEW.receipt_id)
        WHERE rowid = (SELECT n FROM expense_search_keys WHERE expense_id = NEW.id);
END;

CREATE TRIGGER receipt_search_update AFTER UPDATE OF ocr_text ON receipts
BEGIN
    UPDATE expense_search SET ocr_text = NEW.ocr_text
        WHERE rowid IN (SELECT k.n FROM expense_search_keys k
                        JOIN expenses e ON e.id = k.expense_id
                        WHERE e.receipt_id = NEW.id);
END;
