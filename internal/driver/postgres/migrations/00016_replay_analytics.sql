-- Pavilion schema, version 16: replay viewers and replay sales, apart from
-- live ones. The recorders add a show's replay views (plays of the replay
-- page) to show_analytics, keep each distinct replay viewer once, and name
-- the holds made from a replay (after the show ended); replay sales are the
-- counted orders of those holds, read from the ledger. Applied once per
-- batch through analytics_nodes, like the rest. Same columns and constraint
-- names as the SQLite schema.

-- +goose Up

ALTER TABLE show_analytics ADD COLUMN replay_views bigint NOT NULL DEFAULT 0;

CREATE TABLE show_replay_viewers (
    show_id    uuid NOT NULL,
    viewer_key text NOT NULL,
    first_seen timestamptz NOT NULL,
    CONSTRAINT show_replay_viewers_pkey PRIMARY KEY (show_id, viewer_key),
    CONSTRAINT show_replay_viewers_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);

-- No reference to reservations: the mark is written after the hold, by
-- another transaction, and must never hold up a batch.
CREATE TABLE replay_holds (
    reservation_id uuid NOT NULL,
    show_id        uuid NOT NULL,
    CONSTRAINT replay_holds_pkey PRIMARY KEY (reservation_id),
    CONSTRAINT replay_holds_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);
CREATE INDEX replay_holds_show_idx ON replay_holds (show_id);

-- +goose Down

DROP INDEX replay_holds_show_idx;
DROP TABLE replay_holds;
DROP TABLE show_replay_viewers;
ALTER TABLE show_analytics DROP COLUMN replay_views;
