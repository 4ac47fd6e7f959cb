-- Pavilion schema, version 1: accounts, brands, shows, catalogue and offers.
-- Money is bigint minor units with an ISO 4217 currency; times are timestamptz.
-- Constraint names are part of the driver: db.go maps them to user errors.
-- The ledger (reservations, orders, payments) comes in later migrations.

-- +goose Up

CREATE TABLE users (
    id            uuid NOT NULL,
    seq           bigint GENERATED ALWAYS AS IDENTITY, -- creation order, for stable listings
    email         text NOT NULL,
    display_name  text NOT NULL DEFAULT '',
    password_hash text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);
-- Emails are kept as typed and compared lower-cased.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_created_idx ON users (created_at, seq);

CREATE TABLE user_roles (
    user_id uuid NOT NULL,
    role    text NOT NULL,
    CONSTRAINT user_roles_pkey PRIMARY KEY (user_id, role),
    CONSTRAINT user_roles_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT user_roles_role_check CHECK (role IN ('viewer', 'member', 'host', 'brand_admin', 'admin'))
);

-- Sessions and bearer tokens; only the SHA-256 of the secret is stored.
CREATE TABLE credentials (
    hash       text NOT NULL,
    user_id    uuid NOT NULL,
    kind       text NOT NULL,
    name       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT credentials_pkey PRIMARY KEY (hash),
    CONSTRAINT credentials_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT credentials_kind_check CHECK (kind IN ('session', 'token'))
);
CREATE INDEX credentials_user_idx ON credentials (user_id);
CREATE INDEX credentials_expires_idx ON credentials (expires_at);

CREATE TABLE brands (
    id         uuid NOT NULL,
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    slug       text NOT NULL,
    name       text NOT NULL,
    story      text NOT NULL DEFAULT '',
    logo_url   text NOT NULL DEFAULT '',
    website    text NOT NULL DEFAULT '',
    flagship   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT brands_pkey PRIMARY KEY (id),
    CONSTRAINT brands_slug_key UNIQUE (slug)
);
CREATE INDEX brands_created_idx ON brands (created_at, seq);

-- Which users administer which brands (account.User.BrandIDs, in order).
CREATE TABLE brand_admins (
    brand_id uuid NOT NULL,
    user_id  uuid NOT NULL,
    position integer NOT NULL DEFAULT 0,
    CONSTRAINT brand_admins_pkey PRIMARY KEY (brand_id, user_id),
    CONSTRAINT brand_admins_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id) ON DELETE CASCADE,
    CONSTRAINT brand_admins_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX brand_admins_user_idx ON brand_admins (user_id, position);

CREATE TABLE shows (
    id              uuid NOT NULL,
    brand_id        uuid NOT NULL,
    title           text NOT NULL,
    description     text NOT NULL DEFAULT '',
    kind            text NOT NULL DEFAULT 'show',
    visibility      text NOT NULL DEFAULT 'public',
    state           text NOT NULL DEFAULT 'scheduled',
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    time_zone       text NOT NULL DEFAULT 'UTC', -- IANA zone the brand scheduled it in
    hold_seconds    integer NOT NULL DEFAULT 0,  -- 0: the platform default
    stream_key_hash text NOT NULL DEFAULT '',    -- SHA-256 of the WHIP key; '' when none
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT shows_pkey PRIMARY KEY (id),
    CONSTRAINT shows_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id),
    CONSTRAINT shows_kind_check CHECK (kind IN ('show', 'pavilion_day')),
    CONSTRAINT shows_visibility_check CHECK (visibility IN ('public', 'members')),
    CONSTRAINT shows_state_check CHECK (state IN ('scheduled', 'live', 'ended', 'cancelled')),
    CONSTRAINT shows_hold_seconds_check CHECK (hold_seconds >= 0),
    CONSTRAINT shows_time_check CHECK (ends_at >= starts_at)
);
CREATE INDEX shows_starts_idx ON shows (starts_at, id);
CREATE INDEX shows_brand_starts_idx ON shows (brand_id, starts_at, id);

CREATE TABLE show_hosts (
    show_id  uuid NOT NULL,
    user_id  uuid NOT NULL,
    position integer NOT NULL DEFAULT 0,
    CONSTRAINT show_hosts_pkey PRIMARY KEY (show_id, user_id),
    CONSTRAINT show_hosts_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_hosts_user_fkey FOREIGN KEY (user_id) REFERENCES users (id)
);
CREATE INDEX show_hosts_user_idx ON show_hosts (user_id);

CREATE TABLE products (
    id          uuid NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    brand_id    uuid NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    images      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    CONSTRAINT products_pkey PRIMARY KEY (id),
    CONSTRAINT products_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id),
    -- Lets skus prove that a SKU's brand is its product's brand.
    CONSTRAINT products_id_brand_key UNIQUE (id, brand_id)
);
CREATE INDEX products_brand_idx ON products (brand_id, created_at, seq);

-- Stock ledger per SKU. Invariant: sold + held <= on_hand.
CREATE TABLE skus (
    id          uuid NOT NULL,
    product_id  uuid NOT NULL,
    brand_id    uuid NOT NULL,
    position    integer NOT NULL DEFAULT 0, -- order within the product
    code        text NOT NULL,
    attributes  jsonb NOT NULL DEFAULT '{}',
    price_minor bigint NOT NULL,
    currency    text NOT NULL,
    on_hand     integer NOT NULL DEFAULT 0,
    sold        integer NOT NULL DEFAULT 0,
    held        integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT skus_pkey PRIMARY KEY (id),
    CONSTRAINT skus_brand_code_key UNIQUE (brand_id, code),
    CONSTRAINT skus_product_fkey FOREIGN KEY (product_id, brand_id) REFERENCES products (id, brand_id) ON DELETE CASCADE,
    CONSTRAINT skus_price_check CHECK (price_minor >= 0),
    CONSTRAINT skus_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT skus_stock_check CHECK (on_hand >= 0 AND sold >= 0 AND held >= 0 AND sold + held <= on_hand)
);
CREATE INDEX skus_product_idx ON skus (product_id, position);

-- A SKU featured in a show. Invariant: sold + held <= allocated.
CREATE TABLE offers (
    id                 uuid NOT NULL,
    seq                bigint GENERATED ALWAYS AS IDENTITY,
    show_id            uuid NOT NULL,
    sku_id             uuid NOT NULL,
    price_minor        bigint NOT NULL,
    currency           text NOT NULL,
    allocated          integer NOT NULL,
    per_customer_limit integer NOT NULL DEFAULT 0, -- 0: no limit
    sold               integer NOT NULL DEFAULT 0,
    held               integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    CONSTRAINT offers_pkey PRIMARY KEY (id),
    CONSTRAINT offers_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id),
    CONSTRAINT offers_sku_fkey FOREIGN KEY (sku_id) REFERENCES skus (id),
    CONSTRAINT offers_price_check CHECK (price_minor >= 0),
    CONSTRAINT offers_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT offers_counts_check CHECK (allocated >= 0 AND per_customer_limit >= 0 AND sold >= 0 AND held >= 0),
    CONSTRAINT offers_stock_check CHECK (sold + held <= allocated)
);
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
