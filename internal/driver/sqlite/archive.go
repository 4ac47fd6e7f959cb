package sqlite

import (
	"context"
	"database/sql"

	"github.com/pavilion-live/pavilion/chat"
)

// ArchiveWriter keeps chat lines after a show; the rest of chat.Archive is
// sqlstore.ArchiveStore.
type ArchiveWriter struct{ *conn }

// KeepLines stores chat lines in one transaction. A line already stored
// stays as it was; lines of shows that no longer exist are dropped.
func (db ArchiveWriter) KeepLines(ctx context.Context, lines []chat.Line) error {
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
