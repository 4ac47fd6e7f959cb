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
-- seq comes from a sequence: concurrent transactions may commit a smaller
-- number after a larger one, which the reader allows for (account/cache.go).
-- Entries are pruned after an hour (the node's credential sweep). Same table
-- as the SQLite schema.

-- +goose Up

CREATE TABLE account_changes (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX account_changes_at_idx ON account_changes (at);

-- +goose StatementBegin
CREATE FUNCTION account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Nested, not OR: OLD of the other tables has no expires_at.
    IF TG_TABLE_NAME = 'users' THEN
        INSERT INTO account_changes (user_id) VALUES (NEW.id);
    ELSIF TG_TABLE_NAME = 'credentials' THEN
        IF OLD.expires_at > clock_timestamp() THEN
            INSERT INTO account_changes (user_id) VALUES (OLD.user_id);
        END IF;
    ELSE
        INSERT INTO account_changes (user_id) VALUES (OLD.user_id);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER account_changes_credential AFTER DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION account_changed();
CREATE TRIGGER account_changes_role AFTER DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION account_changed();
CREATE TRIGGER account_changes_brand AFTER DELETE ON brand_admins
    FOR EACH ROW EXECUTE FUNCTION account_changed();
CREATE TRIGGER account_changes_user AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION account_changed();

-- +goose Down

DROP TRIGGER account_changes_user ON users;
DROP TRIGGER account_changes_brand ON brand_admins;
DROP TRIGGER account_changes_role ON user_roles;
DROP TRIGGER account_changes_credential ON credentials;
DROP FUNCTION account_changed();
DROP TABLE account_changes;
