-- Pavilion schema, version 9: chat that is kept. Every chat line a room
-- numbered, written in batches by the node it was sent on, and the lines
-- moderators deleted (kept apart: a deletion may be written before its line,
-- which is still in another node's batch). A line is named by its show and
-- the bus's numbering (epoch, seq), so writing it twice keeps one. Same
-- columns and constraint names as the SQLite schema.

-- +goose Up

CREATE TABLE chat_lines (
    show_id     uuid NOT NULL,
    epoch       text NOT NULL,
    seq         bigint NOT NULL,
    id          uuid NOT NULL,        -- the message's ID, as clients saw it
    author_id   uuid NOT NULL,        -- no foreign key: the line is kept as it was shown
    author_name text NOT NULL,
    staff       boolean NOT NULL DEFAULT false,
    text        text NOT NULL,
    at          timestamptz NOT NULL,
    CONSTRAINT chat_lines_pkey PRIMARY KEY (show_id, epoch, seq),
    CONSTRAINT chat_lines_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT chat_lines_seq_check CHECK (seq > 0)
);
-- Pages of a show's history, newest first; the retention sweep.
CREATE INDEX chat_lines_show_at_idx ON chat_lines (show_id, at, epoch, seq);
CREATE INDEX chat_lines_at_idx ON chat_lines (at);

CREATE TABLE chat_deletions (
    show_id    uuid NOT NULL,
    epoch      text NOT NULL,
    seq        bigint NOT NULL,
    deleted_by uuid NOT NULL,         -- the moderator (no foreign key, as author_id)
    deleted_at timestamptz NOT NULL,
    CONSTRAINT chat_deletions_pkey PRIMARY KEY (show_id, epoch, seq),
    CONSTRAINT chat_deletions_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);
CREATE INDEX chat_deletions_at_idx ON chat_deletions (deleted_at);

-- +goose Down

DROP TABLE chat_deletions;
DROP TABLE chat_lines;
