package chat

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// The moderate frame: deletions, mutes, bans, slow mode and blocked words,
// stored before they are announced.

func (r *Room) moderate(ctx context.Context, c *conn, f *ClientFrame) error {
	sh, err := r.staff(ctx, c)
	if err != nil {
		return err
	}
	ev := &roomEvent{Type: EvModeration, Action: f.Action}
	switch f.Action {
	case ActDelete:
		if !r.hasLine(ctx, f.Seq) {
			return apperr.Errorf(apperr.NotFound, "there is no chat message %d in this room's current numbering", f.Seq)
		}
		ev.Target = f.Seq
	case ActMute:
		until := time.Now().UTC().Add(time.Duration(f.Seconds) * time.Second)
		ev.Subject, ev.Until = &f.UserID, &until
	case ActUnmute, ActBan, ActUnban:
		ev.Subject = &f.UserID
	case ActSlow:
		ev.Seconds = f.Seconds
	case ActWords:
		ev.Words = f.Words
		if ev.Words == nil {
			ev.Words = []string{}
		}
	}
	if ev.Subject != nil && *ev.Subject == c.user.ID {
		return apperr.Errorf(apperr.Invalid, "you cannot %s yourself", f.Action)
	}
	if ev.Subject != nil {
		if err := r.hub.staff.mayModerate(ctx, c.user, *ev.Subject, sh); err != nil {
			return err
		}
	}
	if err := r.persist(ctx, c.user.ID, ev); err != nil {
		return err
	}
	return r.append(ctx, ev)
}

// hasLine reports whether seq names a chat line of the current numbering:
// in history, among the kept lines, or in the archive. A deletion is stored
// under the current epoch, so one naming a line of an earlier numbering (a
// welcome's older lines) or a seq not given yet would hide the current
// numbering's line of that number, now or when it comes.
func (r *Room) hasLine(ctx context.Context, seq uint64) bool {
	r.mu.Lock()
	epoch := r.epoch
	// Deleting a deleted line again is no error.
	found := slices.ContainsFunc(r.history, func(e entry) bool { return e.seq == seq && (e.ev.Type == EvChat || e.ev.Type == "deleted") })
	found = found || slices.ContainsFunc(r.kept, func(k keptLine) bool { return k.epoch == epoch && k.seq == seq })
	r.mu.Unlock()
	if found || r.hub.Archive == nil || seq == 0 {
		return found
	}
	lines, err := r.hub.Archive.LinesBetween(ctx, r.showID, epoch, seq-1, seq+1)
	return err == nil && len(lines) == 1
}

// persist records a ban, mute, word list or deleted line before it is announced, so it
// holds on nodes whose room opens later and after this room closes.
func (r *Room) persist(ctx context.Context, by uuid.UUID, ev *roomEvent) error {
	if ev.Action == ActDelete {
		if a := r.hub.Archive; a != nil {
			// The seq names a line of the current numbering.
			r.mu.Lock()
			epoch := r.epoch
			r.mu.Unlock()
			return a.DeleteLine(ctx, Deletion{ShowID: r.showID, Epoch: epoch, Seq: ev.Target, By: by, At: time.Now().UTC().Truncate(time.Microsecond)})
		}
		return nil
	}
	st := r.hub.Store
	if st == nil {
		return nil
	}
	switch ev.Action {
	case ActBan, ActUnban:
		return st.SetBan(ctx, r.showID, *ev.Subject, by, ev.Action == ActBan)
	case ActMute:
		return st.SetMute(ctx, r.showID, *ev.Subject, by, *ev.Until)
	case ActUnmute:
		return st.SetMute(ctx, r.showID, *ev.Subject, by, time.Time{})
	case ActWords:
		r.mu.Lock()
		brand := r.show.BrandID
		r.mu.Unlock()
		return st.SetBlockedWords(ctx, brand, ev.Words)
	}
	return nil
}
