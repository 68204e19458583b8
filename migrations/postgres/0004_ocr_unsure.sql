-- The fields of a receipt's expense OCR was unsure of (low confidence, or filled in because the
-- receipt did not show them), comma-separated: 'vendor,date'. The review drawer flags them.
ALTER TABLE receipts ADD COLUMN ocr_unsure TEXT NOT NULL DEFAULT '';
