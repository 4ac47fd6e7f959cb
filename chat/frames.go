package chat

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Client frames: the dispatch, the checks privileged frames share, and
// error answers.

// handle runs one client frame.
func (r *Room) handle(ctx context.Context, c *conn, f *ClientFrame) {
	var err error
	switch f.Type {
	case TypeChat:
		err = r.chat(ctx, c, f)
	case TypeReact:
		err = r.react(c, f)
	case TypeTap:
		err = r.tap(ctx, c, f)
	case TypeReserve, TypeRelease:
		err = r.buy(ctx, c, f)
	case TypeResume:
		r.leave(c)
		r.join(c, f.Epoch, f.After)
	case TypeModerate:
		err = r.moderate(ctx, c, f)
	case TypePin:
		err = r.pin(ctx, c, f)
	case TypeDrop:
		err = r.drop(ctx, c, f)
	case TypeEnd:
		err = r.end(ctx, c)
	}
	if err != nil {
		c.replyError(f.ID, err)
	}
}

func signedIn(c *conn, what string) error {
	if c.user == nil {
		return apperr.Errorf(apperr.Unauthorized, "sign in to %s", what)
	}
	return nil
}

// staff checks that the sender may run the show, against the show as
// stored now (not as it was when the room or the connection opened: a host
// taken off the show loses its powers at once, on every node), and returns
// that show.
func (r *Room) staff(ctx context.Context, c *conn) (*show.Show, error) {
	if err := signedIn(c, "moderate"); err != nil {
		return nil, err
	}
	sh, err := r.storedShow(ctx)
	if err != nil {
		return nil, err
	}
	return sh, show.CheckHost(c.user, sh)
}

// storedFor is how long a read of the show answers privileged frames: a
// burst of them (a host pinning in a hurry) costs one read, and a host
// taken off the show is refused well within a second even on a node whose
// bus lost the show event.
const storedFor = 200 * time.Millisecond

// storedShow returns the show as stored, read at most storedFor ago and
// not before the last show event.
func (r *Room) storedShow(ctx context.Context) (*show.Show, error) {
	r.mu.Lock()
	sh, edits := r.stored, r.edits
	fresh := sh != nil && time.Since(r.storedAt) < storedFor
	r.mu.Unlock()
	if fresh {
		return sh, nil
	}
	at := time.Now()
	sh, err := r.hub.Shows.ShowByID(ctx, r.showID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.edits == edits {
		r.stored, r.storedAt = sh, at
	}
	r.mu.Unlock()
	return sh, nil
}

// replyError sends an error frame for the request id.
func (c *conn) replyError(id string, err error) {
	code, msg := "internal", "internal error"
	var fe *FrameError
	switch {
	case errors.As(err, &fe):
		code, msg = fe.Code, fe.Message
	default:
		code, msg = string(apperr.CodeOf(err)), apperr.MessageOf(err)
		if code == string(apperr.Internal) {
			c.room.hub.log().Error("live room request failed", "show", c.room.showID, "err", err)
		}
	}
	c.reply(mustJSON(map[string]any{"type": "error", "id": id, "code": code, "message": msg}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded here; failing is a bug.
		return []byte(`{"type":"error","code":"internal","message":"internal error"}`)
	}
	return b
}
