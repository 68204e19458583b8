-- Signed OCR results already accepted (by a hash of their signature), so a replayed request is
-- refused. Entries older than the accepted age are swept.
CREATE TABLE ocr_callback_nonces (
    nonce   BLOB PRIMARY KEY,
    seen_at TEXT NOT NULL
) STRICT;
CREATE INDEX ocr_callback_nonces_seen_idx ON ocr_callback_nonces (seen_at);
