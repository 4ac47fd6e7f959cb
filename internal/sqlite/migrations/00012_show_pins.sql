-- Pavilion schema, version 12: the product a show has pinned, so that a
-- live room opening later (on another node, after a restart, after it closed
-- idle) shows it to late joiners. One row per show with a pin; unpinning and
-- the show ending delete it. Same table as the PostgreSQL schema.

-- +goose Up

CREATE TABLE show_pins (
    show_id   TEXT NOT NULL PRIMARY KEY REFERENCES shows (id) ON DELETE CASCADE,
    offer_id  TEXT NOT NULL REFERENCES offers (id) ON DELETE CASCADE,
    pinned_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX show_pins_offer_idx ON show_pins (offer_id);

-- +goose Down

DROP TABLE show_pins;
