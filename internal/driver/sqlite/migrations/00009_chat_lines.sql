-- Pavilion schema, version 9: chat that is kept. Every chat line a room
-- numbered, written in batches by the node it was sent on, and the lines
-- moderators deleted (kept apart: a deletion may be written before its line,
-- which is still in another node's batch). A line is named by its show and
-- the bus's numbering (epoch, seq), so writing it twice keeps one. Same
-- columns and constraint names as the PostgreSQL schema, in the types of
-- version 1 (TEXT UUIDs, INTEGER unix microseconds, INTEGER 0/1 booleans).

-- +goose Up

CREATE TABLE chat_lines (
    show_id     TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    epoch       TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,    -- the message's ID, as clients saw it
    author_id   TEXT NOT NULL,    -- no foreign key: the line is kept as it was shown
    author_name TEXT NOT NULL,
    staff       INTEGER NOT NULL DEFAULT 0,
    text        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (show_id, epoch, seq),
    CONSTRAINT chat_lines_seq_check CHECK (seq > 0),
    CONSTRAINT chat_lines_staff_check CHECK (staff IN (0, 1))
) STRICT, WITHOUT ROWID;
-- Pages of a show's history, newest first; the retention sweep.
CREATE INDEX chat_lines_show_at_idx ON chat_lines (show_id, at, epoch, seq);
CREATE INDEX chat_lines_at_idx ON chat_lines (at);

CREATE TABLE chat_deletions (
    show_id    TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    epoch      TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    deleted_by TEXT NOT NULL,     -- the moderator (no foreign key, as author_id)
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (show_id, epoch, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX chat_deletions_at_idx ON chat_deletions (deleted_at);

-- +goose Down

DROP TABLE chat_deletions;
DROP TABLE chat_lines;
