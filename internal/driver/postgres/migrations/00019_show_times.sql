-- Pavilion schema, version 19 (PostgreSQL has no version 18: that one is an
-- index of SQLite's): when a show really went live and really ended, beside
-- the times it was scheduled for. went_live_at is set by the first move to
-- live and never moved after (a publisher who reconnects does not go live
-- again); ended_at by the move to ended. Both are NULL until then, and for
-- shows that went live or ended before this version (their real times were
-- not kept). Same columns as the SQLite schema.

-- +goose Up

ALTER TABLE shows ADD COLUMN went_live_at timestamptz, -- NULL until the show first goes live
                  ADD COLUMN ended_at     timestamptz; -- NULL until the show ends

-- +goose Down

ALTER TABLE shows DROP COLUMN ended_at, DROP COLUMN went_live_at;
