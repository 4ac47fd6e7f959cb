-- Pavilion schema, version 10: fair draws (checkout.Draws). A draw sells an
-- offer's units to entrants drawn at random when its window closes; its
-- state and its entries are in the ledger so that any node can close it,
-- exactly once, after any node restarted. Same columns and constraint names
-- as the PostgreSQL schema.

-- +goose Up

CREATE TABLE draws (
    id         TEXT NOT NULL PRIMARY KEY,
    show_id    TEXT NOT NULL REFERENCES shows (id),
    offer_id   TEXT NOT NULL REFERENCES offers (id),
    units      INTEGER NOT NULL,          -- offered at open; drawn, once drawn
    state      TEXT NOT NULL DEFAULT 'open',
    seed       BLOB NOT NULL,             -- secret until drawn
    commitment TEXT NOT NULL,             -- hex SHA-256 of seed, public from the start
    opens_at   INTEGER NOT NULL,
    closes_at  INTEGER NOT NULL,
    claimed_at INTEGER,                   -- when a node claimed the close
    attempts   INTEGER NOT NULL DEFAULT 0, -- claims made
    drawn_at   INTEGER,
    entries    INTEGER NOT NULL DEFAULT 0, -- the last entry's seq
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT draws_units_check CHECK (units >= 0),
    CONSTRAINT draws_state_check CHECK (state IN ('open', 'closing', 'drawn')),
    CONSTRAINT draws_window_check CHECK (opens_at <= closes_at)
) STRICT;
-- One running draw per offer.
CREATE UNIQUE INDEX draws_active_key ON draws (offer_id) WHERE state IN ('open', 'closing');
CREATE INDEX draws_show_idx ON draws (show_id, created_at);
-- The sweeper: draws not drawn yet, by close.
CREATE INDEX draws_due_idx ON draws (closes_at) WHERE state <> 'drawn';

-- One account's entry in a draw; seq is its place in the published list.
CREATE TABLE draw_entries (
    id             TEXT NOT NULL PRIMARY KEY,
    draw_id        TEXT NOT NULL REFERENCES draws (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id),
    seq            INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    rank           INTEGER NOT NULL DEFAULT 0,   -- a winner's place in the draw order, from 1
    reservation_id TEXT REFERENCES reservations (id), -- a winner's hold
    CONSTRAINT draw_entries_user_key UNIQUE (draw_id, user_id),
    CONSTRAINT draw_entries_seq_key UNIQUE (draw_id, seq)
) STRICT;
-- The winners of a drawn draw, in draw order (listings).
CREATE INDEX draw_entries_winner_idx ON draw_entries (draw_id, rank) WHERE rank > 0;

-- +goose Down

DROP TABLE draw_entries;
DROP TABLE draws;
