-- Pavilion schema, version 14: brand coupons (checkout/coupon.go) and the
-- giveaway side of draws. A coupon's uses and spent money are counters on
-- its row, moved by conditional updates in the transactions that create,
-- abandon, cancel or refund an order; coupon_uses keeps each order's use so
-- that a return happens exactly once. Same columns and constraint names as
-- the PostgreSQL schema.

-- +goose Up

CREATE TABLE coupons (
    id               TEXT NOT NULL PRIMARY KEY,
    brand_id         TEXT NOT NULL REFERENCES brands (id),
    show_id          TEXT REFERENCES shows (id),       -- NULL: every show of the brand
    code             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    percent_off      INTEGER NOT NULL DEFAULT 0,
    amount_off_minor INTEGER NOT NULL DEFAULT 0,
    currency         TEXT NOT NULL,
    min_basket_minor INTEGER NOT NULL DEFAULT 0,
    per_customer     INTEGER NOT NULL DEFAULT 0,       -- 0: any number of orders per account
    max_uses         INTEGER NOT NULL DEFAULT 0,       -- 0: no bound
    budget_minor     INTEGER NOT NULL DEFAULT 0,       -- 0: no bound
    uses             INTEGER NOT NULL DEFAULT 0,
    spent_minor      INTEGER NOT NULL DEFAULT 0,
    starts_at        INTEGER NOT NULL,
    ends_at          INTEGER,
    disabled         INTEGER NOT NULL DEFAULT 0,
    issued_to        TEXT REFERENCES users (id),       -- a giveaway prize: only this account
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    CONSTRAINT coupons_code_key UNIQUE (brand_id, code),
    CONSTRAINT coupons_kind_check CHECK (kind IN ('percent', 'amount')),
    CONSTRAINT coupons_uses_check CHECK (uses >= 0 AND (max_uses = 0 OR uses <= max_uses)),
    CONSTRAINT coupons_spent_check CHECK (spent_minor >= 0 AND (budget_minor = 0 OR spent_minor <= budget_minor)),
    CONSTRAINT coupons_disabled_check CHECK (disabled IN (0, 1))
) STRICT;
CREATE INDEX coupons_brand_idx ON coupons (brand_id, created_at);

-- One order's use of a coupon.
CREATE TABLE coupon_uses (
    order_id       TEXT NOT NULL PRIMARY KEY,
    coupon_id      TEXT NOT NULL REFERENCES coupons (id),
    user_id        TEXT NOT NULL REFERENCES users (id),
    discount_minor INTEGER NOT NULL,
    state          TEXT NOT NULL DEFAULT 'active',
    created_at     INTEGER NOT NULL,
    returned_at    INTEGER,
    CONSTRAINT coupon_uses_state_check CHECK (state IN ('active', 'returned'))
) STRICT;
CREATE INDEX coupon_uses_customer_idx ON coupon_uses (coupon_id, user_id) WHERE state = 'active';

ALTER TABLE orders ADD COLUMN coupon_id TEXT;
ALTER TABLE orders ADD COLUMN coupon_code TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN discount_minor INTEGER NOT NULL DEFAULT 0;

-- Giveaways are draws of a prize (an offer at price 0, or a coupon whose
-- copies are issued to the winners), with a rule for who may enter.
ALTER TABLE draws ADD COLUMN giveaway INTEGER NOT NULL DEFAULT 0;
ALTER TABLE draws ADD COLUMN eligibility TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE draws ADD COLUMN prize_coupon_id TEXT; -- a coupon (no REFERENCES: SQLite cannot drop such a column)

-- +goose Down

ALTER TABLE draws DROP COLUMN prize_coupon_id;
ALTER TABLE draws DROP COLUMN eligibility;
ALTER TABLE draws DROP COLUMN giveaway;
ALTER TABLE orders DROP COLUMN discount_minor;
ALTER TABLE orders DROP COLUMN coupon_code;
ALTER TABLE orders DROP COLUMN coupon_id;
DROP TABLE coupon_uses;
DROP TABLE coupons;
