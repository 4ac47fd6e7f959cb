-- Pavilion schema, version 15: the brand's data bank. Lost intents are
-- counted by the recorders (keyed increments per show, offer and cause,
-- applied once per batch through analytics_nodes); each viewer's ways of
-- taking part are flags ORed into their show_viewers row; a reservation
-- remembers that payment was submitted for it, so a hold that expires after
-- checkout is told apart from one that was forgotten. Same columns and
-- constraint names as the SQLite schema.

-- +goose Up

CREATE TABLE show_lost_intents (
    show_id  uuid NOT NULL,
    offer_id uuid NOT NULL, -- no reference: a count outlives a removed offer
    cause    text NOT NULL,
    n        bigint NOT NULL DEFAULT 0,
    CONSTRAINT show_lost_intents_pkey PRIMARY KEY (show_id, offer_id, cause),
    CONSTRAINT show_lost_intents_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_lost_intents_n_check CHECK (n >= 0)
);

-- analytics.Engagement bits: 1 chatted, 2 reacted, 4 watched >= 1 min, 8 tapped a card.
ALTER TABLE show_viewers ADD COLUMN engaged integer NOT NULL DEFAULT 0;

-- When payment was first submitted for the hold (an order begun); NULL: never.
ALTER TABLE reservations ADD COLUMN checkout_at timestamptz;

-- The data bank reads holds per show and person.
CREATE INDEX reservations_show_user_idx ON reservations (show_id, user_id);

-- +goose Down

DROP INDEX reservations_show_user_idx;
ALTER TABLE reservations DROP COLUMN checkout_at;
ALTER TABLE show_viewers DROP COLUMN engaged;
DROP TABLE show_lost_intents;
