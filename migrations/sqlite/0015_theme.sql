-- The dashboard's colours per account: the system's (prefers-color-scheme), light or dark.
ALTER TABLE users ADD COLUMN theme TEXT NOT NULL DEFAULT 'system'
    CHECK (theme IN ('system', 'light', 'dark'));
