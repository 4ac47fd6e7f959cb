-- Pavilion schema, version 13: replays. The files a show was recorded into
-- (internal/record writes them; a node restarted mid-show leaves two), the
-- show's timeline of pins and drops at the time they happened (offsets in a
-- replay are these times less the file's start), and the brand's choices for
-- the replay: record the show or not, and sell from the replay until when.
-- Same columns and constraint names as the PostgreSQL schema.

-- +goose Up

CREATE TABLE recordings (
    id          TEXT NOT NULL PRIMARY KEY,
    show_id     TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    path        TEXT NOT NULL UNIQUE,
    media_type  TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,           -- NULL while written, or until a crashed writer's file is repaired
    duration_ms INTEGER NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    bytes       INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0)
) STRICT;
CREATE INDEX recordings_show_idx ON recordings (show_id, started_at);
CREATE INDEX recordings_unfinished_idx ON recordings (started_at) WHERE ended_at IS NULL;

CREATE TABLE replay_marks (
    seq      INTEGER PRIMARY KEY,
    show_id  TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    type     TEXT NOT NULL CHECK (type IN ('pin', 'unpin', 'drop')),
    offer_id TEXT                  -- NULL for an unpin
) STRICT;
CREATE INDEX replay_marks_show_idx ON replay_marks (show_id, at, seq);

CREATE TABLE replay_settings (
    show_id     TEXT NOT NULL PRIMARY KEY REFERENCES shows (id) ON DELETE CASCADE,
    record      INTEGER NOT NULL DEFAULT 1 CHECK (record IN (0, 1)),
    sales_until INTEGER            -- NULL: the offers close with the show
) STRICT, WITHOUT ROWID;

-- +goose Down

DROP TABLE replay_settings;
DROP TABLE replay_marks;
DROP TABLE recordings;
