-- Pavilion schema, version 12: the product a show has pinned, so that a
-- live room opening later (on another node, after a restart, after it closed
-- idle) shows it to late joiners. One row per show with a pin; unpinning and
-- the show ending delete it. And who issued each ban and mute (the
-- moderator's account; NULL for those made before this version). Same as the SQLite schema.

-- +goose Up

CREATE TABLE show_pins (
    show_id   uuid NOT NULL,
    offer_id  uuid NOT NULL,
    pinned_at timestamptz NOT NULL,
    CONSTRAINT show_pins_pkey PRIMARY KEY (show_id),
    CONSTRAINT show_pins_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_pins_offer_fkey FOREIGN KEY (offer_id) REFERENCES offers (id) ON DELETE CASCADE
);
CREATE INDEX show_pins_offer_idx ON show_pins (offer_id);

ALTER TABLE show_bans ADD COLUMN issued_by uuid;
ALTER TABLE show_mutes ADD COLUMN issued_by uuid;

-- +goose Down

ALTER TABLE show_mutes DROP COLUMN issued_by;
ALTER TABLE show_bans DROP COLUMN issued_by;

DROP TABLE show_pins;
