-- Pavilion schema, version 11: what makes buying again quick and what a
-- viewer keeps across shows: an address book per account, the payment method
-- the account last paid with (the provider's reference only, never a card
-- number), the viewer's choice to stay out of "just bought" notices, and the
-- brands an account follows (the ledger keeps follows: audiences are built
-- from them). Same columns and constraint names as the PostgreSQL schema.

-- +goose Up

CREATE TABLE addresses (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    dedup_key   TEXT NOT NULL,   -- the address's fields, normalised: one entry per address per account
    name        TEXT NOT NULL,
    line1       TEXT NOT NULL,
    line2       TEXT NOT NULL DEFAULT '',
    city        TEXT NOT NULL,
    region      TEXT NOT NULL DEFAULT '',
    postal_code TEXT NOT NULL,
    country     TEXT NOT NULL,
    phone       TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    used_at     INTEGER NOT NULL, -- the newest is the account's default
    CONSTRAINT addresses_user_key UNIQUE (user_id, dedup_key)
) STRICT;
CREATE INDEX addresses_user_idx ON addresses (user_id, used_at DESC);

CREATE TABLE payment_methods (
    user_id    TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    ref        TEXT NOT NULL,  -- the provider's reusable reference (a token), never a card number
    label      TEXT NOT NULL,  -- what the viewer sees, e.g. "Visa •••• 4242"
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE buyer_privacy (
    user_id        TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hide_purchases INTEGER NOT NULL,
    CONSTRAINT buyer_privacy_flag_check CHECK (hide_purchases IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE TABLE brand_follows (
    brand_id   TEXT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (brand_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX brand_follows_user_idx ON brand_follows (user_id, created_at);

-- +goose Down

DROP TABLE brand_follows;
DROP TABLE buyer_privacy;
DROP TABLE payment_methods;
DROP TABLE addresses;
