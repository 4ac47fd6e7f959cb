package postgres

import (
	"context"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/chat"
)

// ArchiveStore keeps chat lines kept after a show (chat.Archive).
type ArchiveStore struct{ *conn }

var _ chat.Archive = (*DB)(nil)

// KeepLines stores chat lines in one statement. A line already stored stays
// as it was; lines of shows that no longer exist are dropped.
func (db ArchiveStore) KeepLines(ctx context.Context, lines []chat.Line) error {
	if len(lines) == 0 {
		return nil
	}
	n := len(lines)
	var (
		shows, ids, authors  = make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
		epochs, names, texts = make([]string, n), make([]string, n), make([]string, n)
		seqs                 = make([]int64, n)
		staff                = make([]bool, n)
		ats                  = make([]time.Time, n)
	)
	for i, l := range lines {
		shows[i], epochs[i], seqs[i], ids[i] = l.ShowID, l.Epoch, int64(l.Seq), l.ID
		authors[i], names[i], staff[i], texts[i], ats[i] = l.Author.ID, l.Author.Name, l.Staff, l.Text, l.At
	}
	_, err := db.pool.Exec(ctx,
		`INSERT INTO chat_lines (show_id, epoch, seq, id, author_id, author_name, staff, text, at)
		 SELECT u.* FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::uuid[], $5::uuid[], $6::text[], $7::boolean[], $8::text[], $9::timestamptz[])
		   AS u (show_id, epoch, seq, id, author_id, author_name, staff, text, at)
		 WHERE EXISTS (SELECT 1 FROM shows s WHERE s.id = u.show_id)
		 ON CONFLICT (show_id, epoch, seq) DO NOTHING`,
		shows, epochs, seqs, ids, authors, names, staff, texts, ats)
	return storeErr("keep chat lines", err)
}

// DeleteLine records a moderator's deletion of a line, stored or not yet.
func (db ArchiveStore) DeleteLine(ctx context.Context, d chat.Deletion) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO chat_deletions (show_id, epoch, seq, deleted_by, deleted_at) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (show_id, epoch, seq) DO NOTHING`,
		d.ShowID, d.Epoch, int64(d.Seq), d.By, d.At)
	return storeErr("delete chat line", err)
}

// Lines returns the show's lines that are not deleted, newest first.
func (db ArchiveStore) Lines(ctx context.Context, showID uuid.UUID, before *chat.Cursor, limit int) ([]chat.Line, error) {
	var (
		at    *time.Time
		epoch string
		seq   int64
	)
	if before != nil {
		at, epoch, seq = &before.At, before.Epoch, int64(before.Seq)
	}
	return db.queryLines(ctx, "chat lines", showID,
		`SELECT `+lineColumns+` FROM chat_lines l
		 WHERE l.show_id = $1 AND ($2::timestamptz IS NULL OR (l.at, l.epoch, l.seq) < ($2, $3, $4))
		 AND `+notDeleted+`
		 ORDER BY l.at DESC, l.epoch DESC, l.seq DESC LIMIT $5`,
		showID, at, epoch, seq, max(limit, 0))
}

// What the line queries read, and the condition that leaves deleted lines out.
const (
	lineColumns = `l.epoch, l.seq, l.id, l.author_id, l.author_name, l.staff, l.text, l.at`
	notDeleted  = `NOT EXISTS (SELECT 1 FROM chat_deletions d WHERE d.show_id = l.show_id AND d.epoch = l.epoch AND d.seq = l.seq)`
)

// queryLines runs a query of lineColumns for the show's lines.
func (db ArchiveStore) queryLines(ctx context.Context, op string, showID uuid.UUID, query string, args ...any) ([]chat.Line, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeErr(op, err)
	}
	out := []chat.Line{}
	var (
		l chat.Line
		n int64
	)
	_, err = pgx.ForEachRow(rows, []any{&l.Epoch, &n, &l.ID, &l.Author.ID, &l.Author.Name, &l.Staff, &l.Text, &l.At}, func() error {
		line := l
		line.ShowID, line.Seq, line.At = showID, uint64(n), l.At.UTC()
		out = append(out, line)
		return nil
	})
	if err != nil {
		return nil, storeErr(op, err)
	}
	return out, nil
}

// LinesBetween returns the show's lines of the epoch numbered between after
// and before (both excluded), not deleted, in seq order.
func (db ArchiveStore) LinesBetween(ctx context.Context, showID uuid.UUID, epoch string, after, before uint64) ([]chat.Line, error) {
	return db.queryLines(ctx, "chat lines between", showID,
		`SELECT `+lineColumns+` FROM chat_lines l
		 WHERE l.show_id = $1 AND l.epoch = $2 AND l.seq > $3 AND l.seq < $4 AND `+notDeleted+`
		 ORDER BY l.seq`,
		showID, epoch, int64(min(after, math.MaxInt64)), int64(min(before, math.MaxInt64)))
}

// ForgetLines deletes the lines and the deletions made before cutoff.
func (db ArchiveStore) ForgetLines(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM chat_lines WHERE at < $1`, cutoff)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM chat_deletions WHERE deleted_at < $1`, cutoff)
		return err
	})
	return n, storeErr("forget chat lines", err)
}
