-- Full-text search over what a person remembers of an expense: its vendor, its note and the
-- text OCR read off its receipt. The `simple` configuration (no stemming, no stop words) treats
-- every language alike; the query matches each word as a prefix. The trigram index on the
-- vendor stays for partial vendors ("tok" finds "Blue Tokai").
ALTER TABLE receipts ADD COLUMN ocr_text text;
ALTER TABLE receipts ADD COLUMN ocr_search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', coalesce(ocr_text, ''))) STORED;
CREATE INDEX receipts_ocr_search_idx ON receipts USING gin (ocr_search);

ALTER TABLE expenses ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', vendor || ' ' || coalesce(note, ''))) STORED;
CREATE INDEX expenses_search_idx ON expenses USING gin (search);
