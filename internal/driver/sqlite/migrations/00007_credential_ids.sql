-- Pavilion schema, version 7: credentials get an id, to be listed and revoked
-- by (the hash never leaves the server), and the time they were last used
-- (written at most once a minute per credential). Same columns and
-- constraint names as the PostgreSQL schema. SQLite adds NOT NULL columns
-- only with a default, so the table is rebuilt; existing credentials get
-- random ids and keep working.

-- +goose Up

CREATE TABLE credentials_v7 (
    hash         TEXT NOT NULL PRIMARY KEY,
    id           TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    CONSTRAINT credentials_id_key UNIQUE (id),
    CONSTRAINT credentials_kind_check CHECK (kind IN ('session', 'token'))
) STRICT, WITHOUT ROWID;
INSERT INTO credentials_v7 (hash, id, user_id, kind, name, created_at, expires_at)
    SELECT hash, lower(hex(randomblob(16))), user_id, kind, name, created_at, expires_at FROM credentials;
-- The 32 hex digits written as a UUID: 8-4-4-4-12.
UPDATE credentials_v7 SET id = substr(id, 1, 8) || '-' || substr(id, 9, 4) || '-' || substr(id, 13, 4) || '-' ||
    substr(id, 17, 4) || '-' || substr(id, 21, 12);
DROP TABLE credentials;
ALTER TABLE credentials_v7 RENAME TO credentials;
CREATE INDEX credentials_user_idx ON credentials (user_id);
CREATE INDEX credentials_expires_idx ON credentials (expires_at);

-- +goose Down

CREATE TABLE credentials_v6 (
    hash       TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    CONSTRAINT credentials_kind_check CHECK (kind IN ('session', 'token'))
) STRICT, WITHOUT ROWID;
INSERT INTO credentials_v6 (hash, user_id, kind, name, created_at, expires_at)
    SELECT hash, user_id, kind, name, created_at, expires_at FROM credentials;
DROP TABLE credentials;
ALTER TABLE credentials_v6 RENAME TO credentials;
CREATE INDEX credentials_user_idx ON credentials (user_id);
CREATE INDEX credentials_expires_idx ON credentials (expires_at);
