-- Pavilion schema, version 2: the ledger — reservations, orders, idempotency keys.
-- Same tables, columns and constraint names as the SQLite schema. Stock
-- counters live on offers and skus (version 1); every ledger method moves them
-- in the same transaction as the rows here, locking offers before skus.
-- Constraint names are part of the driver: db.go maps them to user errors.

-- +goose Up

-- A hold on units of an offer for one customer.
--   held -> ordering -> ordered -> returned (cancelled or refunded with restock)
--   held -> released | expired; ordering -> held (payment abandoned)
-- A customer's units on an offer are the sum over held, ordering and ordered.
CREATE TABLE reservations (
    id          uuid NOT NULL,
    offer_id    uuid NOT NULL,
    show_id     uuid NOT NULL,
    sku_id      uuid NOT NULL,
    user_id     uuid NOT NULL,
    quantity    integer NOT NULL,
    price_minor bigint NOT NULL, -- unit price, fixed when reserved
    currency    text NOT NULL,
    state       text NOT NULL DEFAULT 'held',
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT reservations_pkey PRIMARY KEY (id),
    CONSTRAINT reservations_offer_fkey FOREIGN KEY (offer_id) REFERENCES offers (id),
    CONSTRAINT reservations_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id),
    CONSTRAINT reservations_sku_fkey FOREIGN KEY (sku_id) REFERENCES skus (id),
    CONSTRAINT reservations_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT reservations_quantity_check CHECK (quantity > 0),
    CONSTRAINT reservations_price_check CHECK (price_minor >= 0),
    CONSTRAINT reservations_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT reservations_state_check CHECK (state IN ('held', 'ordering', 'ordered', 'released', 'expired', 'returned'))
);
-- The sweeper: held reservations by expiry (FOR UPDATE SKIP LOCKED).
CREATE INDEX reservations_expiry_idx ON reservations (expires_at) WHERE state = 'held';
-- The per-customer limit.
CREATE INDEX reservations_offer_user_idx ON reservations (offer_id, user_id);

-- An order buys the units of one reservation. A pending order whose payment
-- did not happen is deleted, and its reservation can be ordered again; so a
-- reservation has at most one order.
CREATE TABLE orders (
    id               uuid NOT NULL,
    seq              bigint GENERATED ALWAYS AS IDENTITY, -- creation order, for stable listings
    user_id          uuid NOT NULL,
    reservation_id   uuid NOT NULL,
    offer_id         uuid NOT NULL,
    show_id          uuid NOT NULL,
    sku_id           uuid NOT NULL,
    brand_id         uuid NOT NULL,
    quantity         integer NOT NULL,
    unit_price_minor bigint NOT NULL,
    total_minor      bigint NOT NULL,
    currency         text NOT NULL,
    state            text NOT NULL DEFAULT 'pending',
    shipping         jsonb NOT NULL DEFAULT '{}', -- checkout.Shipping
    payment_ref      text NOT NULL DEFAULT '',    -- the provider's charge ID once paid
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT orders_pkey PRIMARY KEY (id),
    CONSTRAINT orders_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT orders_reservation_fkey FOREIGN KEY (reservation_id) REFERENCES reservations (id),
    CONSTRAINT orders_offer_fkey FOREIGN KEY (offer_id) REFERENCES offers (id),
    CONSTRAINT orders_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id),
    CONSTRAINT orders_sku_fkey FOREIGN KEY (sku_id) REFERENCES skus (id),
    CONSTRAINT orders_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id),
    CONSTRAINT orders_quantity_check CHECK (quantity > 0),
    CONSTRAINT orders_price_check CHECK (unit_price_minor >= 0 AND total_minor >= 0),
    CONSTRAINT orders_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT orders_state_check CHECK (state IN ('pending', 'paid', 'fulfilled', 'cancelled', 'refunded'))
);
-- One order per reservation; also serves the foreign key when a reservation
-- row is deleted (Reserve undoing a hold it refused).
CREATE UNIQUE INDEX orders_reservation_key ON orders (reservation_id);
-- Listings, newest first.
CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC, seq DESC);
CREATE INDEX orders_brand_idx ON orders (brand_id, created_at DESC, seq DESC);
CREATE INDEX orders_show_idx ON orders (show_id, created_at DESC, seq DESC);
-- The payment reconciler: pending orders, oldest first.
CREATE INDEX orders_pending_idx ON orders (created_at, seq) WHERE state = 'pending';

-- The outcome of a request made with an Idempotency-Key, per user and operation.
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL,
    op           text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    result       bytea,          -- JSON of the first outcome; NULL while it runs
    created_at   timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, op, key),
    CONSTRAINT idempotency_keys_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- +goose Down

DROP TABLE idempotency_keys;
DROP TABLE orders;
DROP TABLE reservations;
