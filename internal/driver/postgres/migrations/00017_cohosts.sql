-- Pavilion schema, version 17: co-hosts. A show's guests (each an invite,
-- then the guest it let in: the invite and the guest key are kept as their
-- SHA-256, never themselves) and the show's stage (the layout the host
-- picked, and the guest on air). One guest at a time per show: the partial
-- unique index holds it. Same columns and constraint names as the SQLite
-- schema.

-- +goose Up

CREATE TABLE show_guests (
    id          uuid NOT NULL,
    show_id     uuid NOT NULL,
    name        text NOT NULL,
    invited_by  uuid NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    redeemed_at timestamptz,       -- NULL until the invite is redeemed
    removed_at  timestamptz,       -- NULL until the host withdraws or removes
    invite_hash text NOT NULL,
    key_hash    text,              -- NULL until the invite is redeemed
    CONSTRAINT show_guests_pkey PRIMARY KEY (id),
    CONSTRAINT show_guests_invite_hash_key UNIQUE (invite_hash),
    CONSTRAINT show_guests_key_hash_key UNIQUE (key_hash),
    CONSTRAINT show_guests_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE
);
CREATE INDEX show_guests_show_idx ON show_guests (show_id, created_at);
CREATE UNIQUE INDEX show_guests_active_key ON show_guests (show_id) WHERE removed_at IS NULL;

CREATE TABLE show_stages (
    show_id    uuid NOT NULL,
    layout     text NOT NULL DEFAULT 'side-by-side' CHECK (layout IN ('side-by-side', 'pip', 'guest-full')),
    guest_id   uuid,               -- the guest on air, NULL when none
    rev        bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    CONSTRAINT show_stages_pkey PRIMARY KEY (show_id),
    CONSTRAINT show_stages_show_fkey FOREIGN KEY (show_id) REFERENCES shows (id) ON DELETE CASCADE,
    CONSTRAINT show_stages_guest_fkey FOREIGN KEY (guest_id) REFERENCES show_guests (id) ON DELETE SET NULL
);

-- +goose Down

DROP TABLE show_stages;
DROP TABLE show_guests;
