package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// ModerationStore keeps bans, mutes and blocked words.
type ModerationStore struct{ db *Conn }

// showUserRef names what a show_bans or show_mutes write refers to that is
// missing: SQLite does not say which foreign key broke, so on a violation
// it looks (PostgreSQL names the constraint, and its aborted transaction
// makes the look fail, so Ref reads the name).
func (s ModerationStore) showUserRef(ctx context.Context, tx Querier, err error, showID uuid.UUID) error {
	if _, kind, ok := s.db.Errs.Broken(err); !ok || kind != ForeignKey {
		return err
	}
	if found, qerr := exists(ctx, tx, `SELECT count(*) FROM shows WHERE id = $1`, showID); qerr == nil && !found {
		return apperr.Wrap(apperr.NotFound, err, "show not found")
	}
	return s.db.Errs.Ref(err, "user")
}

// SetBan bans the user from the show, or lifts the ban. Banning twice keeps
// the first ban.
func (s ModerationStore) SetBan(ctx context.Context, showID, userID, by uuid.UUID, banned bool) error {
	if !banned {
		_, err := s.db.Exec(ctx, `DELETE FROM show_bans WHERE show_id = $1 AND user_id = $2`, showID, userID)
		return s.db.Errs.Wrap("lift ban", err)
	}
	return s.db.Errs.Wrap("ban", s.db.Tx(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO show_bans (show_id, user_id, created_at, issued_by) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (show_id, user_id) DO NOTHING`,
			showID, userID, s.db.Dialect.Time(time.Now()), Issuer(by))
		return s.showUserRef(ctx, tx, err, showID)
	}))
}

// SetMute mutes the user in the show until the given time; the zero time unmutes.
func (s ModerationStore) SetMute(ctx context.Context, showID, userID, by uuid.UUID, until time.Time) error {
	if until.IsZero() {
		_, err := s.db.Exec(ctx, `DELETE FROM show_mutes WHERE show_id = $1 AND user_id = $2`, showID, userID)
		return s.db.Errs.Wrap("unmute", err)
	}
	return s.db.Errs.Wrap("mute", s.db.Tx(ctx, func(tx Querier) error {
		_, err := tx.Exec(ctx,
			`INSERT INTO show_mutes (show_id, user_id, until, issued_by) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (show_id, user_id) DO UPDATE SET until = excluded.until, issued_by = excluded.issued_by`,
			showID, userID, s.db.Dialect.Time(until), Issuer(by))
		return s.showUserRef(ctx, tx, err, showID)
	}))
}

// Moderation returns the show's banned users, oldest ban first, and the
// mutes that end after now, read from one snapshot.
func (s ModerationStore) Moderation(ctx context.Context, showID uuid.UUID, now time.Time) ([]uuid.UUID, map[uuid.UUID]time.Time, error) {
	banned := []uuid.UUID{}
	muted := map[uuid.UUID]time.Time{}
	err := s.db.Snapshot(ctx, func(tx Querier) error {
		ids, err := QueryAll(ctx, tx, func(r Row) (*uuid.UUID, error) {
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
		mutes, err := QueryAll(ctx, tx, func(r Row) (*mute, error) {
			var m mute
			return &m, r.Scan(&m.user, s.db.Scan.Time(&m.until))
		}, `SELECT user_id, until FROM show_mutes WHERE show_id = $1 AND until > $2`, showID, s.db.Dialect.Time(now))
		if err != nil {
			return err
		}
		for _, m := range mutes {
			muted[m.user] = m.until
		}
		return nil
	})
	if err != nil {
		return nil, nil, s.db.Errs.Wrap("moderation", err)
	}
	return banned, muted, nil
}

// Sanctions lists the users the show bans or mutes (mutes that end after
// now), by display name (byte by byte) then user ID.
func (s ModerationStore) Sanctions(ctx context.Context, showID uuid.UUID, now time.Time) ([]chat.Sanction, error) {
	out, err := QueryAll(ctx, s.db.Read, func(r Row) (*chat.Sanction, error) {
		var c chat.Sanction
		err := r.Scan(&c.UserID, &c.DisplayName, s.db.Scan.NullTime(&c.BannedAt), s.db.Scan.NullTime(&c.MutedUntil), &c.BannedBy, &c.MutedBy)
		c.Banned = c.BannedAt != nil
		return &c, err
	}, `SELECT u.id, u.display_name, b.created_at, m.until, b.issued_by, m.issued_by
		FROM (SELECT user_id FROM show_bans WHERE show_id = $1
		      UNION SELECT user_id FROM show_mutes WHERE show_id = $1 AND until > $2) x
		JOIN users u ON u.id = x.user_id
		LEFT JOIN show_bans b ON b.show_id = $1 AND b.user_id = x.user_id
		LEFT JOIN show_mutes m ON m.show_id = $1 AND m.user_id = x.user_id AND m.until > $2
		ORDER BY u.display_name`+s.db.Dialect.Bytewise+`, u.id`, showID, s.db.Dialect.Time(now))
	if err != nil {
		return nil, s.db.Errs.Wrap("sanctions", err)
	}
	return out, nil
}

// SetBlockedWords replaces the brand's blocked-word list.
func (s ModerationStore) SetBlockedWords(ctx context.Context, brandID uuid.UUID, words []string) error {
	text, err := WordsJSON(words)
	if err != nil {
		return s.db.Errs.Wrap("set blocked words", err)
	}
	_, err = s.db.Exec(ctx, s.db.Dialect.SetBlockedWords(), brandID, text, s.db.Dialect.Time(time.Now()))
	return s.db.Errs.Wrap("set blocked words", s.db.Errs.Ref(err, "brand"))
}

// BlockedWords returns the brand's list; empty, not nil, when it has none.
func (s ModerationStore) BlockedWords(ctx context.Context, brandID uuid.UUID) ([]string, error) {
	words, err := s.db.Scan.Words(s.db.Read.QueryRow(ctx, BlockedWords, brandID), ErrNoRows)
	return words, s.db.Errs.Wrap("blocked words", err)
}
