-- Pavilion schema, version 10: fair draws (checkout.Draws). A draw sells an
-- offer's units to entrants drawn at random when its window closes; its
-- state and its entries are in the ledger so that any node can close it,
-- exactly once, after any node restarted. Same tables, columns and
-- constraint names as the SQLite schema.
-- Entering updates the draw's row (its entry count gives the entry's seq),
-- and claiming the close updates it too: the row lock orders every entry
-- before or after the claim, so the list the winners come from is final.

-- +goose Up

CREATE TABLE draws (
    id         uuid NOT NULL,
    show_id    uuid NOT NULL,
    offer_id   uuid NOT NULL,
    units      integer NOT NULL,          -- offered at open; drawn, once drawn
    state      text NOT NULL DEFAULT 'open',
    seed       bytea NOT NULL,            -- secret until drawn
    commitment text NOT NULL,             -- hex SHA-256 of seed, public from the start
    opens_at   timestamptz NOT NULL,
    closes_at  timestamptz NOT NULL,
    claimed_at timestamptz,               -- when a node claimed the close
    attempts   integer NOT NULL DEFAULT 0, -- claims made
    drawn_at   timestamptz,
    entries    integer NOT NULL DEFAULT 0, -- the last entry's seq
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT draws_pkey PRIMARY KEY (id),
    CONSTRAINT draws_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id),
    CONSTRAINT draws_offer_fkey FOREIGN KEY (offer_id) REFERENCES offers (id),
    CONSTRAINT draws_units_check CHECK (units >= 0),
    CONSTRAINT draws_state_check CHECK (state IN ('open', 'closing', 'drawn')),
    CONSTRAINT draws_window_check CHECK (opens_at <= closes_at)
);
-- One running draw per offer.
CREATE UNIQUE INDEX draws_active_key ON draws (offer_id) WHERE state IN ('open', 'closing');
CREATE INDEX draws_show_idx ON draws (show_id, created_at);
-- The sweeper: draws not drawn yet, by close.
CREATE INDEX draws_due_idx ON draws (closes_at) WHERE state <> 'drawn';

-- One account's entry in a draw; seq is its place in the published list.
CREATE TABLE draw_entries (
    id             uuid NOT NULL,
    draw_id        uuid NOT NULL,
    user_id        uuid NOT NULL,
    seq            integer NOT NULL,
    created_at     timestamptz NOT NULL,
    rank           integer NOT NULL DEFAULT 0, -- a winner's place in the draw order, from 1
    reservation_id uuid,                       -- a winner's hold
    CONSTRAINT draw_entries_pkey PRIMARY KEY (id),
    CONSTRAINT draw_entries_draw_fkey FOREIGN KEY (draw_id) REFERENCES draws (id) ON DELETE CASCADE,
    CONSTRAINT draw_entries_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT draw_entries_reservation_fkey FOREIGN KEY (reservation_id) REFERENCES reservations (id),
    CONSTRAINT draw_entries_user_key UNIQUE (draw_id, user_id),
    CONSTRAINT draw_entries_seq_key UNIQUE (draw_id, seq)
);
-- The winners of a drawn draw, in draw order (listings).
CREATE INDEX draw_entries_winner_idx ON draw_entries (draw_id, rank) WHERE rank > 0;

-- +goose Down

DROP TABLE draw_entries;
DROP TABLE draws;
