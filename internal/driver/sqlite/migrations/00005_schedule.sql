-- Pavilion schema, version 5: scheduling rules and "notify me".
-- Same tables, columns and constraint names as the PostgreSQL schema, in the
-- types of version 1 (UUID text, INTEGER unix microseconds).

-- +goose Up

-- The calendar days (YYYY-MM-DD in the platform's time zone) held by
-- Pavilion Days: the primary key is the one-brand-per-day rule.
CREATE TABLE pavilion_days (
    day      TEXT NOT NULL PRIMARY KEY,
    show_id  TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    brand_id TEXT NOT NULL REFERENCES brands (id)
) STRICT, WITHOUT ROWID;
CREATE INDEX pavilion_days_show_idx ON pavilion_days (show_id);

-- Host overlap is checked over a host's shows by time.
CREATE INDEX shows_state_ends_idx ON shows (state, ends_at);

-- "Notify me": who wants to be told when a show goes live.
CREATE TABLE show_subscriptions (
    show_id    TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (show_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX show_subscriptions_user_idx ON show_subscriptions (user_id);

-- In-app notices, newest first per user.
CREATE TABLE notices (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    show_id    TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    text       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX notices_user_idx ON notices (user_id, created_at DESC, seq DESC);

-- +goose Down

DROP TABLE notices;
DROP TABLE show_subscriptions;
DROP INDEX shows_state_ends_idx;
DROP TABLE pavilion_days;
