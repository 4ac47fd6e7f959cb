package sqlstore

import (
	"context"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
)

// ArchiveStore keeps, reads and forgets the chat lines kept after a show
// (chat.Archive).
type ArchiveStore struct{ db *Conn }

// lineCols are the table u of KeepLines.
var lineCols = Cols(`show_id uuid, epoch text, seq bigint, id uuid, author_id uuid, author_name text, staff boolean, text text, at timestamptz`)

// KeepLines stores chat lines in one transaction. A line already stored
// stays as it was; lines of shows that no longer exist are dropped.
func (s ArchiveStore) KeepLines(ctx context.Context, lines []chat.Line) error {
	if len(lines) == 0 {
		return nil
	}
	rows := make([][]any, len(lines))
	for i, l := range lines {
		rows[i] = []any{l.ShowID, l.Epoch, int64(l.Seq), l.ID, l.Author.ID, l.Author.Name, l.Staff, l.Text, s.db.Dialect.Time(l.At)}
	}
	err := s.db.Tx(ctx, func(tx Querier) error {
		_, err := s.db.Dialect.ExecRows(ctx, tx, lineCols, rows,
			`INSERT INTO chat_lines (show_id, epoch, seq, id, author_id, author_name, staff, text, at)
			 SELECT * FROM u WHERE EXISTS (SELECT 1 FROM shows s WHERE s.id = u.show_id)
			 ON CONFLICT (show_id, epoch, seq) DO NOTHING`)
		return err
	})
	return s.db.Errs.Wrap("keep chat lines", err)
}

// DeleteLine records a moderator's deletion of a line, stored or not yet.
func (s ArchiveStore) DeleteLine(ctx context.Context, d chat.Deletion) error {
	_, err := s.db.Exec(ctx,
		`INSERT INTO chat_deletions (show_id, epoch, seq, deleted_by, deleted_at) VALUES ($1, $2, $3, $4, $5)
		 ON CONFLICT (show_id, epoch, seq) DO NOTHING`,
		d.ShowID, d.Epoch, int64(d.Seq), d.By, s.db.Dialect.Time(d.At))
	return s.db.Errs.Wrap("delete chat line", s.db.Errs.Ref(err, "show"))
}

// What the line queries read, and the condition that leaves deleted lines out.
const (
	lineColumns = `l.epoch, l.seq, l.id, l.author_id, l.author_name, l.staff, l.text, l.at`
	notDeleted  = `NOT EXISTS (SELECT 1 FROM chat_deletions d WHERE d.show_id = l.show_id AND d.epoch = l.epoch AND d.seq = l.seq)`
)

// Lines returns the show's lines that are not deleted, newest first.
func (s ArchiveStore) Lines(ctx context.Context, showID uuid.UUID, before *chat.Cursor, limit int) ([]chat.Line, error) {
	args := Args{showID}
	cond := ""
	if before != nil {
		cond = ` AND (l.at, l.epoch, l.seq) < (` + args.Add(s.db.Dialect.Time(before.At)) + `, ` +
			args.Add(before.Epoch) + `, ` + args.Add(int64(before.Seq)) + `)`
	}
	return s.queryLines(ctx, "chat lines", showID,
		`SELECT `+lineColumns+` FROM chat_lines l
		 WHERE l.show_id = $1`+cond+` AND `+notDeleted+`
		 ORDER BY l.at DESC, l.epoch DESC, l.seq DESC LIMIT `+args.Add(max(limit, 0)),
		args...)
}

// queryLines runs a query of lineColumns for the show's lines.
func (s ArchiveStore) queryLines(ctx context.Context, op string, showID uuid.UUID, query string, args ...any) ([]chat.Line, error) {
	out, err := QueryAll(ctx, s.db.Read, func(r Row) (*chat.Line, error) {
		l := chat.Line{ShowID: showID}
		var n int64
		err := r.Scan(&l.Epoch, &n, &l.ID, &l.Author.ID, &l.Author.Name, &l.Staff, &l.Text, s.db.Scan.Time(&l.At))
		l.Seq = uint64(n)
		return &l, err
	}, query, args...)
	if err != nil {
		return nil, s.db.Errs.Wrap(op, err)
	}
	return out, nil
}

// LinesBetween returns the show's lines of the epoch numbered between after
// and before (both excluded), not deleted, in seq order.
func (s ArchiveStore) LinesBetween(ctx context.Context, showID uuid.UUID, epoch string, after, before uint64) ([]chat.Line, error) {
	return s.queryLines(ctx, "chat lines between", showID,
		`SELECT `+lineColumns+` FROM chat_lines l
		 WHERE l.show_id = $1 AND l.epoch = $2 AND l.seq > $3 AND l.seq < $4 AND `+notDeleted+`
		 ORDER BY l.seq`,
		showID, epoch, int64(min(after, math.MaxInt64)), int64(min(before, math.MaxInt64)))
}

// ForgetLines deletes the lines and the deletions made before cutoff.
func (s ArchiveStore) ForgetLines(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	at := s.db.Dialect.Time(cutoff)
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		if n, err = tx.Exec(ctx, `DELETE FROM chat_lines WHERE at < $1`, at); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM chat_deletions WHERE deleted_at < $1`, at)
		return err
	})
	return n, s.db.Errs.Wrap("forget chat lines", err)
}
