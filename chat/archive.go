package chat

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Archive keeps a show's chat in the ledger database, so that it outlives a
// room and a node: the welcome's recent lines on a node whose room is cold,
// and the paged history replays read (GET /api/shows/{id}/chat). Lines are
// written in batches by the node they were sent on (keeper.go); a line is
// named by its show, epoch and seq as the bus numbered it, and writing it
// again changes nothing.
type Archive interface {
	// KeepLines stores lines. A line already stored (same show, epoch and
	// seq) stays as it was; a line of a show that no longer exists is
	// dropped, so one deleted show cannot hold up a batch.
	KeepLines(ctx context.Context, lines []Line) error
	// DeleteLine records a moderator's deletion of a line, which may not be
	// stored yet (it is on its way in another node's batch): a deleted line
	// is never read back. Deleting twice keeps the first deletion.
	DeleteLine(ctx context.Context, d Deletion) error
	// Lines returns up to limit of the show's lines that are not deleted,
	// newest first (by time sent, then epoch and seq), older than before
	// when it is not nil.
	Lines(ctx context.Context, showID uuid.UUID, before *Cursor, limit int) ([]Line, error)
	// LinesBetween returns the show's lines of the epoch numbered after
	// after and before before, not deleted, in seq order: what a room whose
	// bus lost messages missed.
	LinesBetween(ctx context.Context, showID uuid.UUID, epoch string, after, before uint64) ([]Line, error)
	// ForgetLines deletes the lines, and the deletions, made before cutoff;
	// it returns how many lines went.
	ForgetLines(ctx context.Context, cutoff time.Time) (int64, error)
}

// Line is one chat line as viewers saw it: numbered by the bus (Epoch, Seq)
// and written by Author as shown then.
type Line struct {
	ShowID uuid.UUID `json:"-"`
	Epoch  string    `json:"epoch"`
	Seq    uint64    `json:"seq"`
	ID     uuid.UUID `json:"id"` // the message's ID
	Author Author    `json:"user"`
	Staff  bool      `json:"staff,omitempty"` // by the show's hosts or brand admins
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// Deletion is a moderator's removal of a line.
type Deletion struct {
	ShowID uuid.UUID
	Epoch  string
	Seq    uint64
	By     uuid.UUID // the moderator
	At     time.Time
}

// Cursor is a place in a show's history, newest first: the lines before it
// are older.
type Cursor struct {
	At    time.Time
	Epoch string
	Seq   uint64
}

// Cursor is the place just after l, going back in time.
func (l *Line) Cursor() *Cursor { return &Cursor{At: l.At, Epoch: l.Epoch, Seq: l.Seq} }

// String encodes c for a URL (the next page's "before").
func (c *Cursor) String() string {
	raw := strconv.FormatInt(c.At.UnixMicro(), 10) + " " + strconv.FormatUint(c.Seq, 10) + " " + c.Epoch
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor reads a cursor made by Cursor.String, or an RFC 3339 time
// (every line sent before it).
func ParseCursor(s string) (*Cursor, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		// Before any line sent at t: the lowest place at that instant.
		return &Cursor{At: t.UTC()}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("chat: cursor %q is neither a page cursor nor an RFC 3339 time", s)
	}
	micros, rest, ok1 := strings.Cut(string(raw), " ")
	seq, epoch, ok2 := strings.Cut(rest, " ")
	at, err1 := strconv.ParseInt(micros, 10, 64)
	n, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return nil, fmt.Errorf("chat: cursor %q is neither a page cursor nor an RFC 3339 time", s)
	}
	return &Cursor{At: time.UnixMicro(at).UTC(), Epoch: epoch, Seq: n}, nil
}
