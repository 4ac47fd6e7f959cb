-- Pavilion schema, version 6: show analytics. Each node's recorder adds its
-- batched increments here; sales figures are not stored again, they are read
-- from reservations and orders. Same tables and constraint names as the
-- SQLite schema.

-- +goose Up

-- Counters per show, added to by every node.
CREATE TABLE show_analytics (
    show_id    uuid NOT NULL,
    joins      bigint NOT NULL DEFAULT 0,
    chats      bigint NOT NULL DEFAULT 0,
    reactions  bigint NOT NULL DEFAULT 0,
    watch_ms   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    CONSTRAINT show_analytics_pkey PRIMARY KEY (show_id),
    CONSTRAINT show_analytics_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_analytics_counts_check CHECK (joins >= 0 AND chats >= 0 AND reactions >= 0 AND watch_ms >= 0)
);

-- Every distinct viewer of a show: "u:<user id>" or "a:<visitor key>".
CREATE TABLE show_viewers (
    show_id    uuid NOT NULL,
    viewer_key text NOT NULL,
    first_seen timestamptz NOT NULL,
    CONSTRAINT show_viewers_pkey PRIMARY KEY (show_id, viewer_key),
    CONSTRAINT show_viewers_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);

-- Each node's count of connected viewers at each sample instant (at).
-- A show's audience at an instant is the sum over nodes.
CREATE TABLE show_viewer_samples (
    show_id uuid NOT NULL,
    at      timestamptz NOT NULL,
    node    text NOT NULL,
    viewers bigint NOT NULL,
    CONSTRAINT show_viewer_samples_pkey PRIMARY KEY (show_id, at, node),
    CONSTRAINT show_viewer_samples_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_viewer_samples_viewers_check CHECK (viewers >= 0)
);

-- Product card taps per offer. No reference to offers: a tap stays counted
-- if its offer is removed.
CREATE TABLE show_offer_taps (
    show_id  uuid NOT NULL,
    offer_id uuid NOT NULL,
    taps     bigint NOT NULL DEFAULT 0,
    CONSTRAINT show_offer_taps_pkey PRIMARY KEY (show_id, offer_id),
    CONSTRAINT show_offer_taps_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_offer_taps_taps_check CHECK (taps >= 0)
);

-- The last batch applied per recorder node: a retried batch whose first
-- attempt committed is recognised and not added twice.
CREATE TABLE analytics_nodes (
    node       text NOT NULL,
    last_seq   bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT analytics_nodes_pkey PRIMARY KEY (node)
);

-- +goose Down

DROP TABLE analytics_nodes;
DROP TABLE show_offer_taps;
DROP TABLE show_viewer_samples;
DROP TABLE show_viewers;
DROP TABLE show_analytics;
