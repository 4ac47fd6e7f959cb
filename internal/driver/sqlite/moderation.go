package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// ModerationStore keeps bans, mutes, deletions and blocked words.
type ModerationStore struct{ *conn }

// showUserRef names what a show_bans or show_mutes write refers to that is
// missing: SQLite does not say which foreign key broke, so on a violation it
// looks. Other errors pass.
func showUserRef(ctx context.Context, tx *sql.Tx, err error, showID, userID uuid.UUID) error {
	if se := sqliteError(err); se == nil || se.Code() != sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return err
	}
	var n int
	if qerr := tx.QueryRowContext(ctx, `SELECT count(*) FROM shows WHERE id = $1`, showID).Scan(&n); qerr == nil && n == 0 {
		return apperr.Wrap(apperr.NotFound, err, "show not found")
	}
	return refErr(err, "user")
}

// SetBan bans the user from the show, or lifts the ban. Banning twice keeps
// the first ban.
func (db ModerationStore) SetBan(ctx context.Context, showID, userID, by uuid.UUID, banned bool) error {
	if !banned {
		_, err := db.exec(ctx, `DELETE FROM show_bans WHERE show_id = $1 AND user_id = $2`, showID, userID)
		return storeErr("lift ban", err)
	}
	return db.write(ctx, "ban", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO show_bans (show_id, user_id, created_at, issued_by) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (show_id, user_id) DO NOTHING`,
			showID, userID, micros(now()), sqlstore.Issuer(by))
		return showUserRef(ctx, tx, err, showID, userID)
	})
}

// SetMute mutes the user in the show until the given time; the zero time unmutes.
func (db ModerationStore) SetMute(ctx context.Context, showID, userID, by uuid.UUID, until time.Time) error {
	if until.IsZero() {
		_, err := db.exec(ctx, `DELETE FROM show_mutes WHERE show_id = $1 AND user_id = $2`, showID, userID)
		return storeErr("unmute", err)
	}
	return db.write(ctx, "mute", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO show_mutes (show_id, user_id, until, issued_by) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (show_id, user_id) DO UPDATE SET until = excluded.until, issued_by = excluded.issued_by`,
			showID, userID, micros(until), sqlstore.Issuer(by))
		return showUserRef(ctx, tx, err, showID, userID)
	})
}

// Moderation returns the show's banned users, oldest ban first, and the
// mutes that end after now.
func (db ModerationStore) Moderation(ctx context.Context, showID uuid.UUID, now time.Time) ([]uuid.UUID, map[uuid.UUID]time.Time, error) {
	banned := []uuid.UUID{}
	muted := map[uuid.UUID]time.Time{}
	err := db.read(ctx, "moderation", func(tx *sql.Tx) error {
		ids, err := queryAll(ctx, tx, func(r row) (*uuid.UUID, error) {
			var id uuid.UUID
			return &id, r.Scan(&id)
		}, `SELECT user_id FROM show_bans WHERE show_id = $1 ORDER BY created_at, user_id`, showID)
		if err != nil {
			return err
		}
		banned = ids
		type mute struct {
			user  uuid.UUID
			until time.Time
		}
		mutes, err := queryAll(ctx, tx, func(r row) (*mute, error) {
			var m mute
			return &m, r.Scan(&m.user, asTime(&m.until))
		}, `SELECT user_id, until FROM show_mutes WHERE show_id = $1 AND until > $2`, showID, micros(now))
		if err != nil {
			return err
		}
		for _, m := range mutes {
			muted[m.user] = m.until
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return banned, muted, nil
}

// Sanctions lists the users the show bans or mutes (mutes that end after
// now), by display name then user ID.
func (db ModerationStore) Sanctions(ctx context.Context, showID uuid.UUID, now time.Time) ([]chat.Sanction, error) {
	var out []chat.Sanction
	err := db.read(ctx, "sanctions", func(tx *sql.Tx) error {
		var err error
		out, err = queryAll(ctx, tx, func(r row) (*chat.Sanction, error) {
			var s chat.Sanction
			err := r.Scan(&s.UserID, &s.DisplayName, asNullTime(&s.BannedAt), asNullTime(&s.MutedUntil), &s.BannedBy, &s.MutedBy)
			s.Banned = s.BannedAt != nil
			return &s, err
		}, `SELECT u.id, u.display_name, b.created_at, m.until, b.issued_by, m.issued_by
			FROM (SELECT user_id FROM show_bans WHERE show_id = $1
			      UNION SELECT user_id FROM show_mutes WHERE show_id = $1 AND until > $2) x
			JOIN users u ON u.id = x.user_id
			LEFT JOIN show_bans b ON b.show_id = $1 AND b.user_id = x.user_id
			LEFT JOIN show_mutes m ON m.show_id = $1 AND m.user_id = x.user_id AND m.until > $2
			ORDER BY u.display_name, u.id`, showID, micros(now))
		return err
	})
	if err != nil {
		return nil, err
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
	_, err = db.exec(ctx, setBlockedWords, brandID, text, micros(now()))
	return storeErr("set blocked words", refErr(err, "brand"))
}

// setBlockedWords stores a brand's list, spelled once for SQLite.
var setBlockedWords = dialect.SetBlockedWords()

// BlockedWords returns the brand's list; empty, not nil, when it has none.
func (db ModerationStore) BlockedWords(ctx context.Context, brandID uuid.UUID) ([]string, error) {
	words, err := scan.Words(db.r.QueryRowContext(ctx, sqlstore.BlockedWords, brandID), sql.ErrNoRows)
	return words, storeErr("blocked words", err)
}
