-- Signed OCR results already accepted (by a hash of their signature), so a replayed request is
-- refused even by another API instance. Entries older than the accepted age are swept.
CREATE TABLE ocr_callback_nonces (
    nonce   bytea PRIMARY KEY,
    seen_at timestamptz NOT NULL
);
CREATE INDEX ocr_callback_nonces_seen_idx ON ocr_callback_nonces (seen_at);
