-- Pavilion schema, version 20: the replay keeps the co-host. A recording is
-- the host's or the guest's (role): a guest publishing into a show is
-- recorded beside the host, and each role's files are joined apart. The
-- timeline gets the stage's moments: the host's layout switches and the
-- guest joining and leaving, each with the layout of that moment. Same
-- columns and constraint names as the SQLite schema.

-- +goose Up

ALTER TABLE recordings ADD COLUMN role text NOT NULL DEFAULT 'host'
    CONSTRAINT recordings_role_check CHECK (role IN ('host', 'guest'));

ALTER TABLE replay_marks DROP CONSTRAINT replay_marks_type_check;
ALTER TABLE replay_marks ADD CONSTRAINT replay_marks_type_check
    CHECK (type IN ('pin', 'unpin', 'drop', 'layout', 'guest_joined', 'guest_left'));
ALTER TABLE replay_marks ADD COLUMN layout text  -- the stage's marks: the layout from then on
    CONSTRAINT replay_marks_layout_check CHECK (layout IN ('side-by-side', 'pip', 'guest-full'));

-- +goose Down

ALTER TABLE replay_marks DROP COLUMN layout;
DELETE FROM replay_marks WHERE type NOT IN ('pin', 'unpin', 'drop');
ALTER TABLE replay_marks DROP CONSTRAINT replay_marks_type_check;
ALTER TABLE replay_marks ADD CONSTRAINT replay_marks_type_check CHECK (type IN ('pin', 'unpin', 'drop'));
DELETE FROM recordings WHERE role = 'guest';
ALTER TABLE recordings DROP COLUMN role;
