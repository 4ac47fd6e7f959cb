package stream

import (
	"github.com/google/uuid"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Recorder records the shows this node ingests, from the RTP it already
// receives (internal/record). A recording belongs to the feed, not to a
// publisher session: a host (or guest) who reconnects within the grace
// period goes on in the same recording.
type Recorder interface {
	// Record begins a recording of the show as a feed of it goes on air on
	// this node: the host's (RoleHost) or the guest's (RoleGuest, recorded
	// beside the host's). Nil and no error when the show is not to be
	// recorded.
	Record(show uuid.UUID, role string) (Recording, error)
}

// Roles of a recording: whose feed it holds.
const (
	RoleHost  = "host"
	RoleGuest = "guest"
)

// Recording is one show's recording on this node.
type Recording interface {
	// Track returns where a publisher's track goes, nil when it is not
	// recorded (a codec the recorder does not write, a second simulcast layer).
	Track(kind string, codec webrtc.RTPCodecParameters) TrackSink
	// Close finishes the recording: the show went off air here.
	Close() error
}

// TrackSink takes one publisher track's packets. WriteRTP must not block
// (the publisher's read loop calls it) and may keep p: every call gets a
// packet of its own. It reports that the recording wants a keyframe (one
// every few seconds makes the replay seekable), which the server asks the
// publisher for, rate-limited as for viewers.
type TrackSink interface {
	WriteRTP(p *rtp.Packet) (wantKeyframe bool)
	// Close: the track ended (the publisher left).
	Close()
}

// startRecording opens the show's recording for a fresh feed. A recorder
// that fails costs the show its replay, never its broadcast.
func (f *feed) startRecording() {
	s := f.s
	if s.Recorder == nil || f.edge {
		return
	}
	show, role := f.show, RoleHost
	if f.guestOf != uuid.Nil {
		show, role = f.guestOf, RoleGuest
	}
	rec, err := s.Recorder.Record(show, role)
	if err != nil {
		s.log().Error("stream: recording not started", "show", show, "role", role, "err", err)
		return
	}
	if rec == nil {
		return
	}
	f.mu.Lock()
	if f.ended {
		f.mu.Unlock()
		_ = rec.Close()
		return
	}
	f.rec = rec
	f.mu.Unlock()
}

// stopRecording finishes the feed's recording, once.
func (f *feed) stopRecording() {
	f.mu.Lock()
	rec := f.rec
	f.rec = nil
	f.mu.Unlock()
	if rec != nil {
		if err := rec.Close(); err != nil {
			f.s.log().Error("stream: finishing a recording", "show", f.show, "err", err)
		}
	}
}
