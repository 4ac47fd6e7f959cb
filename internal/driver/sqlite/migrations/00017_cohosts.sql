-- Pavilion schema, version 17: co-hosts. A show's guests (each an invite,
-- then the guest it let in: the invite and the guest key are kept as their
-- SHA-256, never themselves) and the show's stage (the layout the host
-- picked, and the guest on air). One guest at a time per show: the partial
-- unique index holds it. Same columns and constraint names as the
-- PostgreSQL schema.

-- +goose Up

CREATE TABLE show_guests (
    id          TEXT NOT NULL PRIMARY KEY,
    show_id     TEXT NOT NULL REFERENCES shows (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    invited_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    redeemed_at INTEGER,           -- NULL until the invite is redeemed
    removed_at  INTEGER,           -- NULL until the host withdraws or removes
    invite_hash TEXT NOT NULL UNIQUE,
    key_hash    TEXT UNIQUE        -- NULL until the invite is redeemed
) STRICT;
CREATE INDEX show_guests_show_idx ON show_guests (show_id, created_at);
CREATE UNIQUE INDEX show_guests_active_key ON show_guests (show_id) WHERE removed_at IS NULL;

CREATE TABLE show_stages (
    show_id    TEXT NOT NULL PRIMARY KEY REFERENCES shows (id) ON DELETE CASCADE,
    layout     TEXT NOT NULL DEFAULT 'side-by-side' CHECK (layout IN ('side-by-side', 'pip', 'guest-full')),
    guest_id   TEXT REFERENCES show_guests (id) ON DELETE SET NULL, -- the guest on air, NULL when none
    rev        INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down

DROP TABLE show_stages;
DROP TABLE show_guests;
