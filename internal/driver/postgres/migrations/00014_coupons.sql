-- Pavilion schema, version 14: brand coupons (checkout/coupon.go) and the
-- giveaway side of draws. A coupon's uses and spent money are counters on
-- its row, moved by conditional updates in the transactions that create,
-- abandon, cancel or refund an order; coupon_uses keeps each order's use so
-- that a return happens exactly once. The coupon's row lock also orders two
-- orders of one customer, so the per-customer count read after it is exact.
-- Same tables, columns and constraint names as the SQLite schema.

-- +goose Up

CREATE TABLE coupons (
    id               uuid NOT NULL,
    brand_id         uuid NOT NULL,
    show_id          uuid,                  -- NULL: every show of the brand
    code             text NOT NULL,
    kind             text NOT NULL,
    percent_off      integer NOT NULL DEFAULT 0,
    amount_off_minor bigint NOT NULL DEFAULT 0,
    currency         text NOT NULL,
    min_basket_minor bigint NOT NULL DEFAULT 0,
    per_customer     integer NOT NULL DEFAULT 0, -- 0: any number of orders per account
    max_uses         integer NOT NULL DEFAULT 0, -- 0: no bound
    budget_minor     bigint NOT NULL DEFAULT 0,  -- 0: no bound
    uses             integer NOT NULL DEFAULT 0,
    spent_minor      bigint NOT NULL DEFAULT 0,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz,
    disabled         boolean NOT NULL DEFAULT false,
    issued_to        uuid,                  -- a giveaway prize: only this account
    created_by       uuid NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT coupons_pkey PRIMARY KEY (id),
    CONSTRAINT coupons_brand_fkey FOREIGN KEY (brand_id) REFERENCES brands (id),
    CONSTRAINT coupons_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id),
    CONSTRAINT coupons_issued_fkey FOREIGN KEY (issued_to) REFERENCES users (id),
    CONSTRAINT coupons_code_key UNIQUE (brand_id, code),
    CONSTRAINT coupons_kind_check CHECK (kind IN ('percent', 'amount')),
    CONSTRAINT coupons_uses_check CHECK (uses >= 0 AND (max_uses = 0 OR uses <= max_uses)),
    CONSTRAINT coupons_spent_check CHECK (spent_minor >= 0 AND (budget_minor = 0 OR spent_minor <= budget_minor))
);
CREATE INDEX coupons_brand_idx ON coupons (brand_id, created_at);

-- One order's use of a coupon.
CREATE TABLE coupon_uses (
    order_id       uuid NOT NULL,
    coupon_id      uuid NOT NULL,
    user_id        uuid NOT NULL,
    discount_minor bigint NOT NULL,
    state          text NOT NULL DEFAULT 'active',
    created_at     timestamptz NOT NULL,
    returned_at    timestamptz,
    CONSTRAINT coupon_uses_pkey PRIMARY KEY (order_id),
    CONSTRAINT coupon_uses_coupon_fkey FOREIGN KEY (coupon_id) REFERENCES coupons (id),
    CONSTRAINT coupon_uses_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT coupon_uses_state_check CHECK (state IN ('active', 'returned'))
);
CREATE INDEX coupon_uses_customer_idx ON coupon_uses (coupon_id, user_id) WHERE state = 'active';

ALTER TABLE orders ADD COLUMN coupon_id uuid;
ALTER TABLE orders ADD COLUMN coupon_code text NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN discount_minor bigint NOT NULL DEFAULT 0;

-- Giveaways are draws of a prize (an offer at price 0, or a coupon whose
-- copies are issued to the winners), with a rule for who may enter.
ALTER TABLE draws ADD COLUMN giveaway boolean NOT NULL DEFAULT false;
ALTER TABLE draws ADD COLUMN eligibility text NOT NULL DEFAULT 'everyone';
ALTER TABLE draws ADD COLUMN prize_coupon_id uuid REFERENCES coupons (id);

-- +goose Down

ALTER TABLE draws DROP COLUMN prize_coupon_id;
ALTER TABLE draws DROP COLUMN eligibility;
ALTER TABLE draws DROP COLUMN giveaway;
ALTER TABLE orders DROP COLUMN discount_minor;
ALTER TABLE orders DROP COLUMN coupon_code;
ALTER TABLE orders DROP COLUMN coupon_id;
DROP TABLE coupon_uses;
DROP TABLE coupons;
