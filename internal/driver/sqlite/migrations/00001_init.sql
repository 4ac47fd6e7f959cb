-- Pavilion schema, version 1: accounts, brands, shows, catalogue and offers.
-- Same tables and constraint names as the PostgreSQL schema, in SQLite's types:
--   ids are UUID text; times are INTEGER unix microseconds (UTC); money is
--   INTEGER minor units with an ISO 4217 currency; lists and maps are JSON text.
-- Tables listed in creation order carry seq INTEGER PRIMARY KEY (the rowid,
-- stable across VACUUM) next to a unique id. Tables are STRICT: a value of the
-- wrong type is an error, not silently stored.
-- Constraint names are part of the driver: db.go maps them to user errors.
-- The ledger (reservations, orders, payments) comes in later migrations.

-- +goose Up

CREATE TABLE users (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL,             -- as typed
    email_key     TEXT NOT NULL UNIQUE,      -- lower-cased in Go (Unicode-aware): uniqueness and lookup
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX users_created_idx ON users (created_at, seq);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role),
    CONSTRAINT user_roles_role_check CHECK (role IN ('viewer', 'member', 'host', 'brand_admin', 'admin'))
) STRICT, WITHOUT ROWID;

-- Sessions and bearer tokens; only the SHA-256 of the secret is stored.
CREATE TABLE credentials (
    hash       TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    CONSTRAINT credentials_kind_check CHECK (kind IN ('session', 'token'))
) STRICT, WITHOUT ROWID;
CREATE INDEX credentials_user_idx ON credentials (user_id);
CREATE INDEX credentials_expires_idx ON credentials (expires_at);

CREATE TABLE brands (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    story      TEXT NOT NULL DEFAULT '',
    logo_url   TEXT NOT NULL DEFAULT '',
    website    TEXT NOT NULL DEFAULT '',
    flagship   TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX brands_created_idx ON brands (created_at, seq);

-- Which users administer which brands (account.User.BrandIDs, in order).
CREATE TABLE brand_admins (
    brand_id TEXT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (brand_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX brand_admins_user_idx ON brand_admins (user_id, position);

CREATE TABLE shows (
    id              TEXT NOT NULL PRIMARY KEY,
    brand_id        TEXT NOT NULL REFERENCES brands (id),
    title           TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL DEFAULT 'show',
    visibility      TEXT NOT NULL DEFAULT 'public',
    state           TEXT NOT NULL DEFAULT 'scheduled',
    starts_at       INTEGER NOT NULL,
    ends_at         INTEGER NOT NULL,
    time_zone       TEXT NOT NULL DEFAULT 'UTC', -- IANA zone the brand scheduled it in
    hold_seconds    INTEGER NOT NULL DEFAULT 0,  -- 0: the platform default
    stream_key_hash TEXT NOT NULL DEFAULT '',    -- SHA-256 of the WHIP key; '' when none
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CONSTRAINT shows_kind_check CHECK (kind IN ('show', 'pavilion_day')),
    CONSTRAINT shows_visibility_check CHECK (visibility IN ('public', 'members')),
    CONSTRAINT shows_state_check CHECK (state IN ('scheduled', 'live', 'ended', 'cancelled')),
    CONSTRAINT shows_hold_seconds_check CHECK (hold_seconds >= 0),
    CONSTRAINT shows_time_check CHECK (ends_at >= starts_at)
) STRICT;
CREATE INDEX shows_starts_idx ON shows (starts_at, id);
CREATE INDEX shows_brand_starts_idx ON shows (brand_id, starts_at, id);

CREATE TABLE show_hosts (
    show_id  TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id),
    position INTEGER NOT NULL DEFAULT 0, -- order of show.Show.HostIDs
    PRIMARY KEY (show_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX show_hosts_user_idx ON show_hosts (user_id);

CREATE TABLE products (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    brand_id    TEXT NOT NULL REFERENCES brands (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    images      TEXT NOT NULL DEFAULT '[]', -- JSON array of URLs
    created_at  INTEGER NOT NULL,
    -- Lets skus prove that a SKU's brand is its product's brand.
    UNIQUE (id, brand_id)
) STRICT;
CREATE INDEX products_brand_idx ON products (brand_id, created_at, seq);

-- Stock ledger per SKU. Invariant: sold + held <= on_hand.
CREATE TABLE skus (
    id          TEXT NOT NULL PRIMARY KEY,
    product_id  TEXT NOT NULL,
    brand_id    TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0, -- order within the product
    code        TEXT NOT NULL,
    attributes  TEXT NOT NULL DEFAULT '{}', -- JSON object of strings
    price_minor INTEGER NOT NULL,
    currency    TEXT NOT NULL,
    on_hand     INTEGER NOT NULL DEFAULT 0,
    sold        INTEGER NOT NULL DEFAULT 0,
    held        INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    UNIQUE (brand_id, code),
    FOREIGN KEY (product_id, brand_id) REFERENCES products (id, brand_id) ON DELETE CASCADE,
    CONSTRAINT skus_price_check CHECK (price_minor >= 0),
    CONSTRAINT skus_currency_check CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    CONSTRAINT skus_stock_check CHECK (on_hand >= 0 AND sold >= 0 AND held >= 0 AND sold + held <= on_hand)
) STRICT;
CREATE INDEX skus_product_idx ON skus (product_id, position);

-- A SKU featured in a show. Invariant: sold + held <= allocated.
CREATE TABLE offers (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    show_id            TEXT NOT NULL REFERENCES shows (id),
    sku_id             TEXT NOT NULL REFERENCES skus (id),
    price_minor        INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    allocated          INTEGER NOT NULL,
    per_customer_limit INTEGER NOT NULL DEFAULT 0, -- 0: no limit
    sold               INTEGER NOT NULL DEFAULT 0,
    held               INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    CONSTRAINT offers_price_check CHECK (price_minor >= 0),
    CONSTRAINT offers_currency_check CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    CONSTRAINT offers_counts_check CHECK (allocated >= 0 AND per_customer_limit >= 0 AND sold >= 0 AND held >= 0),
    CONSTRAINT offers_stock_check CHECK (sold + held <= allocated)
) STRICT;
CREATE INDEX offers_show_idx ON offers (show_id, created_at, seq);
CREATE INDEX offers_sku_idx ON offers (sku_id);

-- +goose Down

DROP TABLE offers;
DROP TABLE skus;
DROP TABLE products;
DROP TABLE show_hosts;
DROP TABLE shows;
DROP TABLE brand_admins;
DROP TABLE brands;
DROP TABLE credentials;
DROP TABLE user_roles;
DROP TABLE users;
