-- Pavilion schema, version 11: what makes buying again quick and what a
-- viewer keeps across shows: an address book per account, the payment method
-- the account last paid with (the provider's reference only, never a card
-- number), the viewer's choice to stay out of "just bought" notices, and the
-- brands an account follows (the ledger keeps follows: audiences are built
-- from them). Same columns and constraint names as the SQLite schema.

-- +goose Up

CREATE TABLE addresses (
    id          uuid NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    user_id     uuid NOT NULL,
    dedup_key   text NOT NULL,   -- the address's fields, normalised: one entry per address per account
    name        text NOT NULL,
    line1       text NOT NULL,
    line2       text NOT NULL DEFAULT '',
    city        text NOT NULL,
    region      text NOT NULL DEFAULT '',
    postal_code text NOT NULL,
    country     text NOT NULL,
    phone       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    used_at     timestamptz NOT NULL, -- the newest is the account's default
    CONSTRAINT addresses_pkey PRIMARY KEY (id),
    CONSTRAINT addresses_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT addresses_user_key UNIQUE (user_id, dedup_key)
);
CREATE INDEX addresses_user_idx ON addresses (user_id, used_at DESC);

CREATE TABLE payment_methods (
    user_id    uuid NOT NULL,
    provider   text NOT NULL,
    ref        text NOT NULL,  -- the provider's reusable reference (a token), never a card number
    label      text NOT NULL,  -- what the viewer sees, e.g. "Visa •••• 4242"
    updated_at timestamptz NOT NULL,
    CONSTRAINT payment_methods_pkey PRIMARY KEY (user_id),
    CONSTRAINT payment_methods_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE buyer_privacy (
    user_id        uuid NOT NULL,
    hide_purchases boolean NOT NULL,
    CONSTRAINT buyer_privacy_pkey PRIMARY KEY (user_id),
    CONSTRAINT buyer_privacy_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE brand_follows (
    brand_id   uuid NOT NULL,
    user_id    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT brand_follows_pkey PRIMARY KEY (brand_id, user_id),
    CONSTRAINT brand_follows_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id) ON DELETE CASCADE,
    CONSTRAINT brand_follows_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX brand_follows_user_idx ON brand_follows (user_id, created_at);

-- +goose Down

DROP TABLE brand_follows;
DROP TABLE buyer_privacy;
DROP TABLE payment_methods;
DROP TABLE addresses;
