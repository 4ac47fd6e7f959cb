-- Pavilion schema, version 16: replay viewers and replay sales, apart from
-- live ones. The recorders add a show's replay views (plays of the replay
-- page) to show_analytics, keep each distinct replay viewer once, and name
-- the holds made from a replay (after the show ended); replay sales are the
-- counted orders of those holds, read from the ledger. Applied once per
-- batch through analytics_nodes, like the rest. Same columns and constraint
-- names as the PostgreSQL schema.

-- +goose Up

ALTER TABLE show_analytics ADD COLUMN replay_views INTEGER NOT NULL DEFAULT 0;

CREATE TABLE show_replay_viewers (
    show_id    TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    viewer_key TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (show_id, viewer_key)
) STRICT, WITHOUT ROWID;

-- No reference to reservations: the mark is written after the hold, by
-- another transaction, and must never hold up a batch.
CREATE TABLE replay_holds (
    reservation_id TEXT NOT NULL PRIMARY KEY,
    show_id        TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX replay_holds_show_idx ON replay_holds (show_id);

-- +goose Down

DROP INDEX replay_holds_show_idx;
DROP TABLE replay_holds;
DROP TABLE show_replay_viewers;
ALTER TABLE show_analytics DROP COLUMN replay_views;
