-- The dashboard's colours per account: the system's (prefers-color-scheme), light or dark.
ALTER TABLE users ADD COLUMN theme text NOT NULL DEFAULT 'system'
    CHECK (theme IN ('system', 'light', 'dark'));
