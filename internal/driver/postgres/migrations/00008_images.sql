-- Pavilion schema, version 9: uploaded images (internal/images), a show's
-- cover and a person's avatar. Images live in the database, not in files, so that every node of a
-- cluster serves every image with nothing else to share; an image is a few
-- re-encoded variants of tens to hundreds of kilobytes. Same columns and
-- constraint names as the SQLite schema.

-- +goose Up

CREATE TABLE images (
    id         text NOT NULL,
    brand_id   uuid REFERENCES brands (id), -- NULL: a person's avatar, of no brand
    user_id    uuid NOT NULL,
    width      integer NOT NULL,
    height     integer NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT images_pkey PRIMARY KEY (id),
    CONSTRAINT images_size_check CHECK (width > 0 AND height > 0)
);

CREATE TABLE image_variants (
    image_id     text NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    width        integer NOT NULL,
    height       integer NOT NULL,
    content_type text NOT NULL,
    data         bytea NOT NULL,
    CONSTRAINT image_variants_pkey PRIMARY KEY (image_id, width),
    CONSTRAINT image_variants_type_check CHECK (content_type IN ('image/jpeg', 'image/png'))
);

ALTER TABLE shows ADD COLUMN cover_url text NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_url text NOT NULL DEFAULT '';

-- +goose Down

ALTER TABLE users DROP COLUMN avatar_url;
ALTER TABLE shows DROP COLUMN cover_url;
DROP TABLE image_variants;
DROP TABLE images;
