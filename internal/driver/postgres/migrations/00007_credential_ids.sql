-- Pavilion schema, version 7: credentials get an id, to be listed and revoked
-- by (the hash never leaves the server), and the time they were last used
-- (written at most once a minute per credential). Same columns and
-- constraint names as the SQLite schema. Existing credentials get random
-- ids (the default is evaluated per row) and keep working.

-- +goose Up

ALTER TABLE credentials ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE credentials ALTER COLUMN id DROP DEFAULT;
ALTER TABLE credentials ADD CONSTRAINT credentials_id_key UNIQUE (id);
ALTER TABLE credentials ADD COLUMN last_used_at timestamptz;

-- +goose Down

ALTER TABLE credentials DROP COLUMN last_used_at;
ALTER TABLE credentials DROP COLUMN id;
