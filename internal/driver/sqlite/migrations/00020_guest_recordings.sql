-- Pavilion schema, version 20: the replay keeps the co-host. A recording is
-- the host's or the guest's (role): a guest publishing into a show is
-- recorded beside the host, and each role's files are joined apart. The
-- timeline gets the stage's moments: the host's layout switches and the
-- guest joining and leaving, each with the layout of that moment. SQLite
-- cannot change a CHECK in place, so replay_marks is rebuilt (its rows and
-- sequence numbers kept). Same columns and constraint names as the
-- PostgreSQL schema.

-- +goose Up

ALTER TABLE recordings ADD COLUMN role TEXT NOT NULL DEFAULT 'host'
    CONSTRAINT recordings_role_check CHECK (role IN ('host', 'guest'));

CREATE TABLE replay_marks_v20 (
    seq      INTEGER PRIMARY KEY,
    show_id  TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    type     TEXT NOT NULL,
    offer_id TEXT,                 -- NULL for an unpin and the stage's marks
    layout   TEXT,                 -- the stage's marks: the layout from then on
    CONSTRAINT replay_marks_type_check
        CHECK (type IN ('pin', 'unpin', 'drop', 'layout', 'guest_joined', 'guest_left')),
    CONSTRAINT replay_marks_layout_check CHECK (layout IN ('side-by-side', 'pip', 'guest-full'))
) STRICT;
INSERT INTO replay_marks_v20 (seq, show_id, at, type, offer_id)
    SELECT seq, show_id, at, type, offer_id FROM replay_marks;
DROP TABLE replay_marks;
ALTER TABLE replay_marks_v20 RENAME TO replay_marks;
CREATE INDEX replay_marks_show_idx ON replay_marks (show_id, at, seq);

-- +goose Down

DELETE FROM recordings WHERE role = 'guest';
ALTER TABLE recordings DROP COLUMN role;

CREATE TABLE replay_marks_v13 (
    seq      INTEGER PRIMARY KEY,
    show_id  TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    type     TEXT NOT NULL CHECK (type IN ('pin', 'unpin', 'drop')),
    offer_id TEXT
) STRICT;
INSERT INTO replay_marks_v13 (seq, show_id, at, type, offer_id)
    SELECT seq, show_id, at, type, offer_id FROM replay_marks WHERE type IN ('pin', 'unpin', 'drop');
DROP TABLE replay_marks;
ALTER TABLE replay_marks_v13 RENAME TO replay_marks;
CREATE INDEX replay_marks_show_idx ON replay_marks (show_id, at, seq);
