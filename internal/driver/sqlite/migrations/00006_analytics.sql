-- Pavilion schema, version 6: show analytics. Each node's recorder adds its
-- batched increments here; sales figures are not stored again, they are read
-- from reservations and orders. Same tables and constraint names as the
-- PostgreSQL schema, in the types of version 1 (INTEGER unix microseconds).

-- +goose Up

-- Counters per show, added to by every node.
CREATE TABLE show_analytics (
    show_id    TEXT NOT NULL PRIMARY KEY REFERENCES shows (id) ON DELETE CASCADE,
    joins      INTEGER NOT NULL DEFAULT 0,
    chats      INTEGER NOT NULL DEFAULT 0,
    reactions  INTEGER NOT NULL DEFAULT 0,
    watch_ms   INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    CONSTRAINT show_analytics_counts_check CHECK (joins >= 0 AND chats >= 0 AND reactions >= 0 AND watch_ms >= 0)
) STRICT, WITHOUT ROWID;

-- Every distinct viewer of a show: "u:<user id>" or "a:<visitor key>".
CREATE TABLE show_viewers (
    show_id    TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    viewer_key TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (show_id, viewer_key)
) STRICT, WITHOUT ROWID;

-- Each node's count of connected viewers at each sample instant (at).
-- A show's audience at an instant is the sum over nodes.
CREATE TABLE show_viewer_samples (
    show_id TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    node    TEXT NOT NULL,
    viewers INTEGER NOT NULL,
    PRIMARY KEY (show_id, at, node),
    CONSTRAINT show_viewer_samples_viewers_check CHECK (viewers >= 0)
) STRICT, WITHOUT ROWID;

-- Product card taps per offer. No reference to offers: a tap stays counted
-- if its offer is removed.
CREATE TABLE show_offer_taps (
    show_id  TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    offer_id TEXT NOT NULL,
    taps     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (show_id, offer_id),
    CONSTRAINT show_offer_taps_taps_check CHECK (taps >= 0)
) STRICT, WITHOUT ROWID;

-- The last batch applied per recorder node: a retried batch whose first
-- attempt committed is recognised and not added twice.
CREATE TABLE analytics_nodes (
    node       TEXT NOT NULL PRIMARY KEY,
    last_seq   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down

DROP TABLE analytics_nodes;
DROP TABLE show_offer_taps;
DROP TABLE show_viewer_samples;
DROP TABLE show_viewers;
DROP TABLE show_analytics;
