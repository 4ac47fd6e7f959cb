package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
)

// ArchiveWriter keeps chat lines after a show; the rest of chat.Archive is
// sqlstore.ArchiveStore.
type ArchiveWriter struct{ *conn }

// KeepLines stores chat lines in one statement. A line already stored stays
// as it was; lines of shows that no longer exist are dropped.
func (db ArchiveWriter) KeepLines(ctx context.Context, lines []chat.Line) error {
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
