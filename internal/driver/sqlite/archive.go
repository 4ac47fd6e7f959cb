package sqlite

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
)

// ArchiveStore keeps chat lines kept after a show (chat.Archive).
type ArchiveStore struct{ *conn }

var _ chat.Archive = (*DB)(nil)

// KeepLines stores chat lines in one transaction. A line already stored
// stays as it was; lines of shows that no longer exist are dropped.
func (db ArchiveStore) KeepLines(ctx context.Context, lines []chat.Line) error {
	if len(lines) == 0 {
		return nil
	}
	return db.write(ctx, "keep chat lines", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx,
			`INSERT INTO chat_lines (show_id, epoch, seq, id, author_id, author_name, staff, text, at)
			 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM shows WHERE id = $1)
			 ON CONFLICT (show_id, epoch, seq) DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, l := range lines {
			if _, err := st.ExecContext(ctx, l.ShowID, l.Epoch, int64(l.Seq), l.ID, l.Author.ID, l.Author.Name, l.Staff, l.Text, micros(l.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteLine records a moderator's deletion of a line, stored or not yet.
func (db ArchiveStore) DeleteLine(ctx context.Context, d chat.Deletion) error {
	_, err := db.exec(ctx,
		`INSERT INTO chat_deletions (show_id, epoch, seq, deleted_by, deleted_at) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (show_id, epoch, seq) DO NOTHING`,
		d.ShowID, d.Epoch, int64(d.Seq), d.By, micros(d.At))
	return storeErr("delete chat line", refErr(err, "show"))
}

// Lines returns the show's lines that are not deleted, newest first.
func (db ArchiveStore) Lines(ctx context.Context, showID uuid.UUID, before *chat.Cursor, limit int) ([]chat.Line, error) {
	var at, seq any
	epoch := ""
	if before != nil {
		at, epoch, seq = micros(before.At), before.Epoch, int64(before.Seq)
	}
	return db.queryLines(ctx, "chat lines", showID,
		`SELECT `+lineColumns+` FROM chat_lines l
		WHERE l.show_id = $1 AND ($2 IS NULL OR (l.at, l.epoch, l.seq) < ($2, $3, $4)) AND `+notDeleted+`
		ORDER BY l.at DESC, l.epoch DESC, l.seq DESC LIMIT $5`,
		showID, at, epoch, seq, max(limit, 0))
}

// What the line queries read, and the condition that leaves deleted lines out.
const (
	lineColumns = `l.epoch, l.seq, l.id, l.author_id, l.author_name, l.staff, l.text, l.at`
	notDeleted  = `NOT EXISTS (SELECT 1 FROM chat_deletions d WHERE d.show_id = l.show_id AND d.epoch = l.epoch AND d.seq = l.seq)`
)

// queryLines runs a query of lineColumns for the show's lines, in one snapshot.
func (db ArchiveStore) queryLines(ctx context.Context, op string, showID uuid.UUID, query string, args ...any) ([]chat.Line, error) {
	var out []chat.Line
	err := db.read(ctx, op, func(tx *sql.Tx) error {
		var err error
		out, err = queryAll(ctx, tx, func(r row) (*chat.Line, error) {
			l := chat.Line{ShowID: showID}
			var n int64
			err := r.Scan(&l.Epoch, &n, &l.ID, &l.Author.ID, &l.Author.Name, &l.Staff, &l.Text, asTime(&l.At))
			l.Seq = uint64(n)
			return &l, err
		}, query, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LinesBetween returns the show's lines of the epoch numbered between after
// and before (both excluded), not deleted, in seq order.
func (db ArchiveStore) LinesBetween(ctx context.Context, showID uuid.UUID, epoch string, after, before uint64) ([]chat.Line, error) {
	return db.queryLines(ctx, "chat lines between", showID,
		`SELECT `+lineColumns+` FROM chat_lines l
		WHERE l.show_id = $1 AND l.epoch = $2 AND l.seq > $3 AND l.seq < $4 AND `+notDeleted+`
		ORDER BY l.seq`, showID, epoch, int64(min(after, math.MaxInt64)), int64(min(before, math.MaxInt64)))
}

// ForgetLines deletes the lines and the deletions made before cutoff.
func (db ArchiveStore) ForgetLines(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, "forget chat lines", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM chat_lines WHERE at < $1`, micros(cutoff))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM chat_deletions WHERE deleted_at < $1`, micros(cutoff))
		return err
	})
	return n, err
}
