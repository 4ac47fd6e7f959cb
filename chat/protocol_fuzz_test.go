package chat_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/chat"
)

// FuzzDecode holds the frame decoder to its contract: whatever the bytes, it
// never panics, and any frame it accepts re-encodes to a frame it accepts
// again, with the same type and the same meaning (decoding is a
// normalisation: doing it twice changes nothing more).
//
// One caveat is built in: json.Marshal escapes <, > and & (and U+2028/9) as
// six bytes each, so a frame near the size limit can outgrow it once
// re-encoded. Such a frame is re-encoded without HTML escaping instead, and
// if even that is too large, Decode must refuse it as too_large — and for no
// other reason.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"type":"chat","text":"hello"}`,
		`{"type":"chat","id":"c1","text":"  <img src=x onerror=alert(1)>  "}`,
		`{"type":"chat","text":"line\nbreak \u2028 ☃"}`,
		`{"type":"react","emoji":"heart"}`,
		`{"type":"reserve","id":"tap-1","offer_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6","quantity":2}`,
		`{"type":"reserve","offer_id":"9d21f34f48ec50b495fe4543dfe0e1b6"}`,
		`{"type":"release","id":"r","reservation_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6"}`,
		`{"type":"resume","epoch":"ABCDEF","after":42}`,
		`{"type":"moderate","action":"delete","seq":7}`,
		`{"type":"moderate","action":"mute","user_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6","seconds":60}`,
		`{"type":"moderate","action":"ban","user_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6"}`,
		`{"type":"moderate","action":"slow","seconds":0}`,
		`{"type":"moderate","action":"words","words":[" Fake ","SCAM"]}`,
		`{"type":"pin","offer_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6"}`,
		`{"type":"pin"}`,
		`{"type":"drop","offer_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6","action":"open","seconds":60}`,
		`{"type":"end"}`,
		`{"TYPE":"end"}`,
		// Refused ones.
		``, `{`, `}`, `[]`, `null`, `"chat"`, `42`, `{"type":"end"}}`, `{"type":"end"} {}`,
		`{"type":"shout"}`, `{"type":"chat","text":"hi","x":1}`, `{"type":7}`, `{"type":"chat","text":""}`,
		`{"type":"reserve","offer_id":"nope"}`, `{"type":"resume","after":-1,"epoch":"E"}`,
		"{\"type\":\"chat\",\"text\":\"\xff\"}", `{"type":"chat","text":"\ud800"}`,
		`{"type":"moderate","action":"words","words":[""]}`,
		`{"type":"chat","text":"` + strings.Repeat("<", 4000) + `"}`,
		`{"type":"end","epoch":"` + strings.Repeat("<", 4000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, err := chat.Decode(data)
		if err != nil {
			var fe *chat.FrameError
			if !errors.As(err, &fe) || fe.Code == "" || fe.Message == "" {
				t.Fatalf("Decode(%q) failed with %#v, not a FrameError with a code and a message", data, err)
			}
			return
		}
		if frame == nil || frame.Type == "" {
			t.Fatalf("Decode(%q) accepted %#v", data, frame)
		}
		again, err := json.Marshal(frame)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", frame, err)
		}
		if len(again) > chat.MaxFrame {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(frame); err != nil {
				t.Fatal(err)
			}
			again = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		}
		frame2, err := chat.Decode(again)
		if len(again) > chat.MaxFrame {
			var fe *chat.FrameError
			if !errors.As(err, &fe) || fe.Code != "too_large" {
				t.Fatalf("re-encoded %q is %d bytes, refused with %v; want too_large", data, len(again), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode(%q) accepted %#v, but not its encoding %s: %v", data, frame, again, err)
		}
		if frame2.Type != frame.Type {
			t.Fatalf("type changed from %q to %q through %s", frame.Type, frame2.Type, again)
		}
		third, err := json.Marshal(frame2)
		if err != nil || !bytes.Equal(third, mustMarshal(t, frame)) {
			t.Fatalf("decoding is not stable: %s then %s", mustMarshal(t, frame), third)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
