package chat

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// History serves a show's archived chat a page at a time, newest first
// (GET /api/shows/{id}/chat; replays read it): to anyone who may see the
// show, members-only shows to those who may watch them, deleted lines never.
type History struct {
	Archive Archive
	Shows   show.Store
}

// Page returns up to limit lines (1 to 200) older than before (nil: the
// newest), and the cursor of the next page, nil when there is none.
func (h *History) Page(ctx context.Context, u *account.User, showID uuid.UUID, before *Cursor, limit int) ([]Line, *Cursor, error) {
	if limit < 1 || limit > 200 {
		return nil, nil, apperr.Errorf(apperr.Invalid, "limit must be a whole number from 1 to 200")
	}
	sh, err := h.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, nil, err
	}
	if !account.CanSeeShow(u, sh.Visibility == show.Members, sh.BrandID, sh.HostIDs) {
		return nil, nil, apperr.Errorf(apperr.NotFound, "show %q not found", showID)
	}
	lines, err := h.Archive.Lines(ctx, showID, before, limit)
	if err != nil {
		return nil, nil, err
	}
	var next *Cursor
	// A full page may have a next one; the last page can come back empty.
	if len(lines) == limit {
		next = lines[len(lines)-1].Cursor()
	}
	return lines, next, nil
}
