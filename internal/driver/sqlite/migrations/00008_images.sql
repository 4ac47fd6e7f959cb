-- Pavilion schema, version 9: uploaded images (internal/images), a show's
-- cover and a person's avatar. Images live in the database, not in files, so that every node of a
-- cluster serves every image with nothing else to share; an image is a few
-- re-encoded variants of tens to hundreds of kilobytes. Same columns and
-- constraint names as the PostgreSQL schema.

-- +goose Up

CREATE TABLE images (
    id         TEXT NOT NULL PRIMARY KEY, -- first half of the SHA-256 of the uploaded bytes, hex
    brand_id   TEXT REFERENCES brands (id), -- NULL: a person's avatar, of no brand
    user_id    TEXT NOT NULL,             -- who uploaded it (no foreign key: the image outlives the account)
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT images_size_check CHECK (width > 0 AND height > 0)
) STRICT;

CREATE TABLE image_variants (
    image_id     TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (image_id, width),
    CONSTRAINT image_variants_type_check CHECK (content_type IN ('image/jpeg', 'image/png'))
) STRICT, WITHOUT ROWID;

ALTER TABLE shows ADD COLUMN cover_url TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';

-- +goose Down

ALTER TABLE users DROP COLUMN avatar_url;
ALTER TABLE shows DROP COLUMN cover_url;
DROP TABLE image_variants;
DROP TABLE images;
