package chat

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Chat and reactions: the room's rules for a line, and the reaction
// counts published once a tick.

// allow applies the per-user rate limit: 5 frames (chat and reactions)
// a second, in bursts of 10.
func (r *Room) allowLocked(u *account.User) bool {
	l, ok := r.limits[u.ID]
	if !ok {
		if len(r.limits) > 100_000 {
			r.limits = map[uuid.UUID]*rate.Limiter{}
		}
		l = rate.NewLimiter(5, 10)
		r.limits[u.ID] = l
	}
	return l.Allow()
}

// mayChat applies the room's rules to u's message at now, and counts it
// against slow mode when it passes.
func (r *Room) mayChat(u *account.User, text string, now time.Time) (staff bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	isStaff := account.CanHost(u, r.show.BrandID, r.show.HostIDs)
	switch {
	case r.banned[u.ID]:
		return false, apperr.Errorf(apperr.Forbidden, "you are banned from this show")
	case now.Before(r.muted[u.ID]):
		return false, apperr.Errorf(apperr.Forbidden, "you are muted until %s", r.muted[u.ID].UTC().Format(time.RFC3339))
	case !r.allowLocked(u):
		return false, apperr.Errorf(apperr.RateLimited, "slow down")
	case !isStaff && r.slow > 0 && now.Sub(r.lastChat[u.ID]) < r.slow:
		return false, apperr.Errorf(apperr.RateLimited, "slow mode: one message every %d seconds", int(r.slow/time.Second))
	case !isStaff && containsWord(text, r.words):
		return false, apperr.Errorf(apperr.Invalid, "your message contains a word this show does not allow")
	}
	r.lastChat[u.ID] = now
	return isStaff, nil
}

func (r *Room) chat(ctx context.Context, c *conn, f *ClientFrame) error {
	if err := signedIn(c, "chat"); err != nil {
		return err
	}
	u := c.user
	now := time.Now()
	staff, err := r.mayChat(u, f.Text, now)
	if err != nil {
		return err
	}
	// Microseconds, as the archive keeps times: a line read back from it
	// is the line viewers got.
	at := now.UTC().Truncate(time.Microsecond)
	id := uuid.New()
	seq, epoch, err := r.hub.events.appendNumbered(ctx, r.showID, &roomEvent{Type: EvChat, ID: id.String(), User: &Author{ID: u.ID, Name: u.DisplayName}, Text: f.Text, At: &at, Staff: staff})
	if err != nil {
		return err
	}
	// This node numbered the line, so this node keeps it: once, under the
	// name the bus gave it, whether or not it ever comes back to this room.
	if k := r.hub.keeper; k != nil {
		k.add(Line{ShowID: r.showID, Epoch: epoch, Seq: seq, ID: id, Author: Author{ID: u.ID, Name: u.DisplayName}, Staff: staff, Text: f.Text, At: at})
	}
	if r.hub.Analytics != nil {
		r.hub.Analytics.Chat(r.showID, c.who)
	}
	return nil
}

// containsWord matches blocked words case-insensitively, as whole words or
// inside longer ones: evading a filter by gluing words together should not work.
func containsWord(text string, words []string) bool {
	if len(words) == 0 {
		return false
	}
	lower := strings.ToLower(text)
	for _, w := range words {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func (r *Room) react(c *conn, f *ClientFrame) error {
	if err := signedIn(c, "react"); err != nil {
		return err
	}
	r.mu.Lock()
	if !r.allowLocked(c.user) {
		r.mu.Unlock()
		return apperr.Errorf(apperr.RateLimited, "slow down")
	}
	r.reacts[f.Emoji]++
	r.mu.Unlock()
	if r.hub.Analytics != nil {
		r.hub.Analytics.Reaction(r.showID, c.who, 1)
	}
	return nil
}

// flushReactions publishes this node's reaction counts since the last tick,
// once, for every node to show: a storm of taps becomes one small frame.
func (r *Room) flushReactions(ctx context.Context) {
	r.mu.Lock()
	if len(r.reacts) == 0 {
		r.mu.Unlock()
		return
	}
	counts := r.reacts
	r.reacts = map[string]int{}
	r.mu.Unlock()
	_ = r.hub.Bus.Publish(ctx, r.channel, mustJSON(map[string]any{"type": "reactions", "counts": counts}))
}
