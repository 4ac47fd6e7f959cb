-- Pavilion schema, version 2: the ledger — reservations, orders, idempotency keys.
-- Same tables, columns and constraint names as the PostgreSQL schema, in the
-- types of version 1 (UUID text, INTEGER unix microseconds, INTEGER minor units).
-- Stock counters live on offers and skus (version 1); every ledger method moves
-- them in the same transaction as the rows here.

-- +goose Up

-- A hold on units of an offer for one customer.
--   held -> ordering -> ordered -> returned (cancelled or refunded with restock)
--   held -> released | expired; ordering -> held (payment abandoned)
-- A customer's units on an offer are the sum over held, ordering and ordered.
CREATE TABLE reservations (
    id          TEXT NOT NULL PRIMARY KEY,
    offer_id    TEXT NOT NULL REFERENCES offers (id),
    show_id     TEXT NOT NULL REFERENCES shows (id),
    sku_id      TEXT NOT NULL REFERENCES skus (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    quantity    INTEGER NOT NULL,
    price_minor INTEGER NOT NULL, -- unit price, fixed when reserved
    currency    TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'held',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CONSTRAINT reservations_quantity_check CHECK (quantity > 0),
    CONSTRAINT reservations_price_check CHECK (price_minor >= 0),
    CONSTRAINT reservations_currency_check CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    CONSTRAINT reservations_state_check CHECK (state IN ('held', 'ordering', 'ordered', 'released', 'expired', 'returned'))
) STRICT;
-- The sweeper: held reservations by expiry.
CREATE INDEX reservations_expiry_idx ON reservations (state, expires_at);
-- The per-customer limit.
CREATE INDEX reservations_offer_user_idx ON reservations (offer_id, user_id);

-- An order buys the units of one reservation. A pending order whose payment
-- did not happen is deleted, and its reservation can be ordered again.
CREATE TABLE orders (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    user_id          TEXT NOT NULL REFERENCES users (id),
    reservation_id   TEXT NOT NULL REFERENCES reservations (id),
    offer_id         TEXT NOT NULL REFERENCES offers (id),
    show_id          TEXT NOT NULL REFERENCES shows (id),
    sku_id           TEXT NOT NULL REFERENCES skus (id),
    brand_id         TEXT NOT NULL REFERENCES brands (id),
    quantity         INTEGER NOT NULL,
    unit_price_minor INTEGER NOT NULL,
    total_minor      INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending',
    shipping         TEXT NOT NULL DEFAULT '{}', -- JSON object: checkout.Shipping
    payment_ref      TEXT NOT NULL DEFAULT '',   -- the provider's charge ID once paid
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CONSTRAINT orders_quantity_check CHECK (quantity > 0),
    CONSTRAINT orders_price_check CHECK (unit_price_minor >= 0 AND total_minor >= 0),
    CONSTRAINT orders_currency_check CHECK (currency GLOB '[A-Z][A-Z][A-Z]'),
    CONSTRAINT orders_state_check CHECK (state IN ('pending', 'paid', 'fulfilled', 'cancelled', 'refunded'))
) STRICT;
CREATE INDEX orders_reservation_idx ON orders (reservation_id);
-- Listings, newest first.
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC, seq DESC);
CREATE INDEX orders_brand_idx ON orders (brand_id, created_at DESC, seq DESC);
CREATE INDEX orders_show_idx ON orders (show_id, created_at DESC, seq DESC);
-- The payment reconciler: pending orders, oldest first.
CREATE INDEX orders_state_created_idx ON orders (state, created_at);

-- The outcome of a request made with an Idempotency-Key, per user and operation.
CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    op           TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result       BLOB,            -- JSON of the first outcome; NULL while it runs
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, op, key)
) STRICT, WITHOUT ROWID;

-- +goose Down

DROP TABLE idempotency_keys;
DROP TABLE orders;
DROP TABLE reservations;
