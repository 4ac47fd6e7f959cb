-- Pavilion schema, version 18 (SQLite only; PostgreSQL has no version 18
-- and needs none): one index on reservations (show_id, user_id, offer_id)
-- instead of two, (offer_id, user_id) and (show_id, user_id). Every hold
-- the group commit inserts writes each index of the table, and in a
-- stampede those B-tree inserts are a good part of the writer's work; the
-- wider index answers every query the two narrower ones did, as their query
-- plans show (internal/driver/sqlite/plans_internal_test.go):
--   a customer's units on an offer (the per-customer limit) and the
--   customers of an offer (loading the stock gate) name the offer's show;
--   a show's holds (analytics, the data bank) and a customer's holds in a
--   show read its first one or two columns.

-- +goose Up

CREATE INDEX reservations_customer_idx ON reservations (show_id, user_id, offer_id);
DROP INDEX reservations_offer_user_idx;
DROP INDEX reservations_show_user_idx;

-- +goose Down

CREATE INDEX reservations_offer_user_idx ON reservations (offer_id, user_id);
CREATE INDEX reservations_show_user_idx ON reservations (show_id, user_id);
DROP INDEX reservations_customer_idx;
