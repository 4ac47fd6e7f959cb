-- Pavilion schema, version 21: the account change log. A node keeps the
-- credentials it verified in memory for minutes (a drop's crowd taps without
-- a read each), and reads this log every second to drop the ones made stale
-- anywhere: by this node, another node, or `pavilion user` on the command
-- line. Triggers write it, so no write path can leave an entry out:
--   - a credential deleted before it expired (log-out, revocation, password
--     reset; an expired one is refused by every cache anyway, and the hourly
--     sweep of expired ones would flood the log);
--   - a role or brand link taken away (a change of roles deletes the old
--     rows first, so every change of roles writes one);
--   - a change of the user's row (name, picture, password).
-- A new user's rows write nothing: no cache holds a credential of theirs.
-- Entries are pruned after an hour (the node's credential sweep). Same table
-- as the PostgreSQL schema; times are unix microseconds, as everywhere here.

-- +goose Up

CREATE TABLE account_changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    at      INTEGER NOT NULL
) STRICT;
CREATE INDEX account_changes_at_idx ON account_changes (at);

-- +goose StatementBegin
CREATE TRIGGER account_changes_credential AFTER DELETE ON credentials
    WHEN old.expires_at > CAST(unixepoch('subsec') * 1000000 AS INTEGER)
BEGIN
    INSERT INTO account_changes (user_id, at) VALUES (old.user_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER account_changes_role AFTER DELETE ON user_roles
BEGIN
    INSERT INTO account_changes (user_id, at) VALUES (old.user_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER account_changes_brand AFTER DELETE ON brand_admins
BEGIN
    INSERT INTO account_changes (user_id, at) VALUES (old.user_id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER account_changes_user AFTER UPDATE ON users
BEGIN
    INSERT INTO account_changes (user_id, at) VALUES (new.id, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
-- +goose StatementEnd

-- +goose Down

DROP TRIGGER account_changes_user;
DROP TRIGGER account_changes_brand;
DROP TRIGGER account_changes_role;
DROP TRIGGER account_changes_credential;
DROP TABLE account_changes;
