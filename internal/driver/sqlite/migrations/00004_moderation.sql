-- Pavilion schema, version 4: chat moderation. Bans and mutes hold per show,
-- blocked words per brand, so that they survive a room closing and hold on
-- every node. Same tables as the PostgreSQL schema, in the types of version 1
-- (INTEGER unix microseconds; the word list is a JSON array of strings).

-- +goose Up

CREATE TABLE show_bans (
    show_id    TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (show_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX show_bans_user_idx ON show_bans (user_id);

CREATE TABLE show_mutes (
    show_id TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until   INTEGER NOT NULL,
    PRIMARY KEY (show_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX show_mutes_user_idx ON show_mutes (user_id);

CREATE TABLE brand_blocked_words (
    brand_id   TEXT NOT NULL PRIMARY KEY REFERENCES brands (id) ON DELETE CASCADE,
    words      TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down

DROP TABLE brand_blocked_words;
DROP TABLE show_mutes;
DROP TABLE show_bans;
