-- Pavilion schema, version 5: scheduling rules and "notify me".
-- Same tables, columns and constraint names as the SQLite schema.

-- +goose Up

-- The calendar days (in the platform's time zone) held by Pavilion Days: the
-- primary key is the one-brand-per-day rule, race-free across nodes.
CREATE TABLE pavilion_days (
    day      text NOT NULL, -- YYYY-MM-DD
    show_id  uuid NOT NULL,
    brand_id uuid NOT NULL,
    CONSTRAINT pavilion_days_pkey PRIMARY KEY (day),
    CONSTRAINT pavilion_days_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT pavilion_days_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id)
);
CREATE INDEX pavilion_days_show_idx ON pavilion_days (show_id);

-- Host overlap is checked over a host's shows by time.
CREATE INDEX shows_state_ends_idx ON shows (state, ends_at);

-- "Notify me": who wants to be told when a show goes live.
CREATE TABLE show_subscriptions (
    show_id    uuid NOT NULL,
    user_id    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT show_subscriptions_pkey PRIMARY KEY (show_id, user_id),
    CONSTRAINT show_subscriptions_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_subscriptions_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX show_subscriptions_user_idx ON show_subscriptions (user_id);

-- In-app notices, newest first per user.
CREATE TABLE notices (
    id         uuid NOT NULL,
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    user_id    uuid NOT NULL,
    show_id    uuid NOT NULL,
    kind       text NOT NULL,
    text       text NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT notices_pkey PRIMARY KEY (id),
    CONSTRAINT notices_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT notices_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);
CREATE INDEX notices_user_idx ON notices (user_id, created_at DESC, seq DESC);

-- +goose Down

DROP TABLE notices;
DROP TABLE show_subscriptions;
DROP INDEX shows_state_ends_idx;
DROP TABLE pavilion_days;
