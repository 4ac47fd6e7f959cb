-- Pavilion schema, version 3: flash drops. A drop offer sells only while its
-- window is open; a new drop has no window until the host opens one.
-- Same columns and constraint names as the PostgreSQL schema, in the types of
-- version 1 (INTEGER 0/1 for a boolean, INTEGER unix microseconds; NULL: no
-- window yet). "drop" is a reserved word, hence is_drop.
-- The window check is a column constraint of drop_closes_at, not a table
-- constraint: SQLite cannot drop a column a table CHECK names, and so the Down
-- section could not undo it.

-- +goose Up

ALTER TABLE offers ADD COLUMN is_drop INTEGER NOT NULL DEFAULT 0
    CONSTRAINT offers_drop_check CHECK (is_drop IN (0, 1));
ALTER TABLE offers ADD COLUMN drop_opens_at INTEGER;
ALTER TABLE offers ADD COLUMN drop_closes_at INTEGER
    CONSTRAINT offers_drop_window_check CHECK (drop_opens_at <= drop_closes_at);

-- +goose Down

ALTER TABLE offers DROP COLUMN drop_closes_at;
ALTER TABLE offers DROP COLUMN drop_opens_at;
ALTER TABLE offers DROP COLUMN is_drop;
