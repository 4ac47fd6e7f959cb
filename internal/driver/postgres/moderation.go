package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// ModerationStore keeps bans, mutes, deletions and blocked words.
type ModerationStore struct{ *conn }

// SetBan bans the user from the show, or lifts the ban. Banning twice keeps
// the first ban.
func (db ModerationStore) SetBan(ctx context.Context, showID, userID, by uuid.UUID, banned bool) error {
	if !banned {
		_, err := db.pool.Exec(ctx, `DELETE FROM show_bans WHERE show_id = $1 AND user_id = $2`, showID, userID)
		return storeErr("lift ban", err)
	}
	_, err := db.pool.Exec(ctx,
		`INSERT INTO show_bans (show_id, user_id, created_at, issued_by) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (show_id, user_id) DO NOTHING`,
		showID, userID, time.Now().UTC().Truncate(time.Microsecond), sqlstore.Issuer(by))
	return storeErr("ban", err)
}

// SetMute mutes the user in the show until the given time; the zero time unmutes.
func (db ModerationStore) SetMute(ctx context.Context, showID, userID, by uuid.UUID, until time.Time) error {
	if until.IsZero() {
		_, err := db.pool.Exec(ctx, `DELETE FROM show_mutes WHERE show_id = $1 AND user_id = $2`, showID, userID)
		return storeErr("unmute", err)
	}
	_, err := db.pool.Exec(ctx,
		`INSERT INTO show_mutes (show_id, user_id, until, issued_by) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (show_id, user_id) DO UPDATE SET until = EXCLUDED.until, issued_by = EXCLUDED.issued_by`,
		showID, userID, until, sqlstore.Issuer(by))
	return storeErr("mute", err)
}

// Moderation returns the show's banned users, oldest ban first, and the
// mutes that end after now, read from one snapshot.
func (db ModerationStore) Moderation(ctx context.Context, showID uuid.UUID, now time.Time) ([]uuid.UUID, map[uuid.UUID]time.Time, error) {
	banned := []uuid.UUID{}
	muted := map[uuid.UUID]time.Time{}
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`SELECT user_id FROM show_bans WHERE show_id = $1 ORDER BY created_at, user_id`, showID)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		banned = append(banned, ids...)
		rows, err = tx.Query(ctx,
			`SELECT user_id, until FROM show_mutes WHERE show_id = $1 AND until > $2`, showID, now)
		if err != nil {
			return err
		}
		var (
			user  uuid.UUID
			until time.Time
		)
		_, err = pgx.ForEachRow(rows, []any{&user, &until}, func() error {
			muted[user] = until.UTC()
			return nil
		})
		return err
	})
	if err != nil {
		return nil, nil, storeErr("moderation", err)
	}
	return banned, muted, nil
}

// Sanctions lists the users the show bans or mutes (mutes that end after
// now), by display name then user ID.
func (db ModerationStore) Sanctions(ctx context.Context, showID uuid.UUID, now time.Time) ([]chat.Sanction, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT u.id, u.display_name, b.created_at, m.until, b.issued_by, m.issued_by
		 FROM (SELECT user_id FROM show_bans WHERE show_id = $1
		       UNION SELECT user_id FROM show_mutes WHERE show_id = $1 AND until > $2) x
		 JOIN users u ON u.id = x.user_id
		 LEFT JOIN show_bans b ON b.show_id = $1 AND b.user_id = x.user_id
		 LEFT JOIN show_mutes m ON m.show_id = $1 AND m.user_id = x.user_id AND m.until > $2
		 ORDER BY u.display_name COLLATE "C", u.id`, showID, now)
	if err != nil {
		return nil, storeErr("sanctions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Sanction, error) {
		var s chat.Sanction
		err := r.Scan(&s.UserID, &s.DisplayName, &s.BannedAt, &s.MutedUntil, &s.BannedBy, &s.MutedBy)
		s.Banned = s.BannedAt != nil
		for _, t := range []*time.Time{s.BannedAt, s.MutedUntil} {
			if t != nil {
				*t = t.UTC()
			}
		}
		return s, err
	})
	if err != nil {
		return nil, storeErr("sanctions", err)
	}
	if out == nil {
		out = []chat.Sanction{}
	}
	return out, nil
}

// SetBlockedWords replaces the brand's blocked-word list.
func (db ModerationStore) SetBlockedWords(ctx context.Context, brandID uuid.UUID, words []string) error {
	text, err := sqlstore.WordsJSON(words)
	if err != nil {
		return storeErr("set blocked words", err)
	}
	_, err = db.pool.Exec(ctx, setBlockedWords, brandID, text, pgTime(time.Now()))
	return storeErr("set blocked words", err)
}

// setBlockedWords stores a brand's list, spelled once for PostgreSQL.
var setBlockedWords = dialect.SetBlockedWords()

// BlockedWords returns the brand's list; empty, not nil, when it has none.
func (db ModerationStore) BlockedWords(ctx context.Context, brandID uuid.UUID) ([]string, error) {
	words, err := scan.Words(db.pool.QueryRow(ctx, sqlstore.BlockedWords, brandID), pgx.ErrNoRows)
	return words, storeErr("blocked words", err)
}
