-- Pavilion schema, version 13: replays. The files a show was recorded into
-- (internal/record writes them; a node restarted mid-show leaves two), the
-- show's timeline of pins and drops at the time they happened (offsets in a
-- replay are these times less the file's start), and the brand's choices for
-- the replay: record the show or not, and sell from the replay until when.
-- Same columns and constraint names as the SQLite schema.

-- +goose Up

CREATE TABLE recordings (
    id          uuid NOT NULL,
    show_id     uuid NOT NULL,
    path        text NOT NULL,
    media_type  text NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,       -- NULL while written, or until a crashed writer's file is repaired
    duration_ms bigint NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    bytes       bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    CONSTRAINT recordings_pkey PRIMARY KEY (id),
    CONSTRAINT recordings_path_key UNIQUE (path),
    CONSTRAINT recordings_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);
CREATE INDEX recordings_show_idx ON recordings (show_id, started_at);
CREATE INDEX recordings_unfinished_idx ON recordings (started_at) WHERE ended_at IS NULL;

CREATE TABLE replay_marks (
    seq      bigint GENERATED ALWAYS AS IDENTITY,
    show_id  uuid NOT NULL,
    at       timestamptz NOT NULL,
    type     text NOT NULL CHECK (type IN ('pin', 'unpin', 'drop')),
    offer_id uuid,                 -- NULL for an unpin
    CONSTRAINT replay_marks_pkey PRIMARY KEY (seq),
    CONSTRAINT replay_marks_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);
CREATE INDEX replay_marks_show_idx ON replay_marks (show_id, at, seq);

CREATE TABLE replay_settings (
    show_id     uuid NOT NULL,
    record      boolean NOT NULL DEFAULT true,
    sales_until timestamptz,       -- NULL: the offers close with the show
    CONSTRAINT replay_settings_pkey PRIMARY KEY (show_id),
    CONSTRAINT replay_settings_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);

-- +goose Down

DROP TABLE replay_settings;
DROP TABLE replay_marks;
DROP TABLE recordings;
