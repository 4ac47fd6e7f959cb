-- Pavilion schema, version 3: flash drops. A drop offer sells only while its
-- window is open; a new drop has no window until the host opens one.
-- Same columns and constraint names as the SQLite schema ("drop" is a
-- reserved word, hence is_drop).

-- +goose Up

ALTER TABLE offers
    ADD COLUMN is_drop        boolean NOT NULL DEFAULT false,
    ADD COLUMN drop_opens_at  timestamptz,
    ADD COLUMN drop_closes_at timestamptz,
    ADD CONSTRAINT offers_drop_window_check CHECK (drop_opens_at <= drop_closes_at);

-- +goose Down

ALTER TABLE offers
    DROP CONSTRAINT offers_drop_window_check,
    DROP COLUMN drop_closes_at,
    DROP COLUMN drop_opens_at,
    DROP COLUMN is_drop;
