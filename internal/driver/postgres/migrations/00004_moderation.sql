-- Pavilion schema, version 4: chat moderation. Bans and mutes hold per show,
-- blocked words per brand, so that they survive a room closing and hold on
-- every node. Same tables and constraint names as the SQLite schema.

-- +goose Up

CREATE TABLE show_bans (
    show_id    uuid NOT NULL,
    user_id    uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT show_bans_pkey PRIMARY KEY (show_id, user_id),
    CONSTRAINT show_bans_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_bans_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX show_bans_user_idx ON show_bans (user_id);

CREATE TABLE show_mutes (
    show_id uuid NOT NULL,
    user_id uuid NOT NULL,
    until   timestamptz NOT NULL,
    CONSTRAINT show_mutes_pkey PRIMARY KEY (show_id, user_id),
    CONSTRAINT show_mutes_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_mutes_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX show_mutes_user_idx ON show_mutes (user_id);

CREATE TABLE brand_blocked_words (
    brand_id   uuid NOT NULL,
    words      jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT brand_blocked_words_pkey PRIMARY KEY (brand_id),
    CONSTRAINT brand_blocked_words_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id) ON DELETE CASCADE
);

-- +goose Down

DROP TABLE brand_blocked_words;
DROP TABLE show_mutes;
DROP TABLE show_bans;
