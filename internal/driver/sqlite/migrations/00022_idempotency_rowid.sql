-- Pavilion schema, version 22 (SQLite only; PostgreSQL has no version 22
-- and needs none): idempotency_keys becomes a table with rowids, its
-- primary key (user_id, op, key) an index beside it. WITHOUT ROWID kept
-- each whole row, the stored result (a hold's JSON, ~400 bytes) with it,
-- in the key's B-tree: every hold the group commit writes lands at a random
-- place in it, and pages of ~8 such rows split every few inserts. With
-- rowids the rows are appended in order and the random insert is the
-- key's ~100 bytes: a batch of 50 holds wrote ~535 WAL pages before, ~355
-- after (bench/results/2026-12-04-sqlite-holds.md). The rows, columns and
-- constraint names are the same; only the storage changes.

-- +goose Up

CREATE TABLE idempotency_keys_v22 (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    op           TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result       BLOB,            -- JSON of the first outcome; NULL while it runs
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, op, key)
) STRICT;
INSERT INTO idempotency_keys_v22 (user_id, op, key, request_hash, result, created_at)
    SELECT user_id, op, key, request_hash, result, created_at FROM idempotency_keys ORDER BY created_at;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_v22 RENAME TO idempotency_keys;

-- +goose Down

CREATE TABLE idempotency_keys_v20 (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    op           TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result       BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, op, key)
) STRICT, WITHOUT ROWID;
INSERT INTO idempotency_keys_v20 (user_id, op, key, request_hash, result, created_at)
    SELECT user_id, op, key, request_hash, result, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_v20 RENAME TO idempotency_keys;
