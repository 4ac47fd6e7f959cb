package chat_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

func TestBadFramesGetErrors(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	c, _ := w.join("viewer")
	cases := []struct {
		name, frame, code string
	}{
		{"malformed JSON", `{"type":"chat","text":`, "invalid"},
		{"not JSON", `hello`, "invalid"},
		{"empty", ``, "invalid"},
		{"array", `[{"type":"chat","text":"hi"}]`, "invalid"},
		{"string", `"chat"`, "invalid"},
		{"null", `null`, "invalid"},
		{"two objects", `{"type":"end"}{"type":"end"}`, "invalid"},
		{"trailing brace", `{"type":"chat","text":"hi"}}`, "invalid"},
		{"trailing bracket", `{"type":"chat","text":"hi"}]`, "invalid"},
		{"no type", `{"text":"hi"}`, "invalid"},
		{"unknown type", `{"type":"shout","text":"hi"}`, "unknown_type"},
		{"unknown field", `{"type":"chat","text":"hi","colour":"red"}`, "invalid"},
		{"wrong type: type", `{"type":7}`, "invalid"},
		{"wrong type: text", `{"type":"chat","text":["hi"]}`, "invalid"},
		{"wrong type: quantity", `{"type":"reserve","offer_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6","quantity":"2"}`, "invalid"},
		{"fractional quantity", `{"type":"reserve","offer_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6","quantity":1.5}`, "invalid"},
		{"negative after", `{"type":"resume","epoch":"E","after":-1}`, "invalid"},
		{"bad uuid", `{"type":"reserve","offer_id":"not-a-uuid"}`, "invalid"},
		{"empty chat", `{"type":"chat","text":"   "}`, "invalid"},
		{"long chat", `{"type":"chat","text":"` + strings.Repeat("a", chat.MaxChat+1) + `"}`, "invalid"},
		{"control characters", `{"type":"chat","text":"bell\u0007"}`, "invalid"},
		{"NUL", `{"type":"chat","text":"a\u0000b"}`, "invalid"},
		{"bidi override", `{"type":"chat","text":"a\u202eb"}`, "invalid"},
		{"bidi isolate", `{"type":"chat","text":"a\u2066b"}`, "invalid"},
		{"blocked word with a NUL", `{"type":"moderate","action":"words","words":["a\u0000"]}`, "invalid"},
		{"bad emoji", `{"type":"react","emoji":"skull"}`, "invalid"},
		{"reserve without offer", `{"type":"reserve"}`, "invalid"},
		{"release without id", `{"type":"release"}`, "invalid"},
		{"resume without epoch", `{"type":"resume","after":3}`, "invalid"},
		{"moderate without action", `{"type":"moderate"}`, "invalid"},
		{"mute forever", `{"type":"moderate","action":"mute","user_id":"9d21f34f-48ec-50b4-95fe-4543dfe0e1b6","seconds":9999999}`, "invalid"},
		{"id too long", `{"type":"end","id":"` + strings.Repeat("x", 65) + `"}`, "invalid"},
		{"invalid UTF-8", "{\"type\":\"chat\",\"text\":\"\xff\xfe\"}", "invalid"},
	}
	for _, tc := range cases {
		c.sendRaw(websocket.TextMessage, []byte(tc.frame))
		e := c.next("error")
		if e["code"] != tc.code || e["message"] == "" {
			t.Errorf("%s: %v, want code %s", tc.name, e, tc.code)
		}
	}
	// A well-formed frame that fails its checks names the request in its answer.
	c.send(map[string]any{"type": "react", "id": "tap-7", "emoji": "skull"})
	if e := c.next("error"); e["id"] != "tap-7" {
		t.Fatalf("error for a named request = %v", e)
	}
	// The connection still works.
	c.send(map[string]any{"type": "chat", "text": "still here"})
	if f := c.next("chat"); f["text"] != "still here" {
		t.Fatalf("chat = %v", f)
	}
}

func TestFrameSizeLimit(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	other, _ := w.join("member")

	// Exactly MaxFrame bytes is fine: pad a chat frame with JSON whitespace.
	c, _ := w.join("viewer")
	frame := `{"type":"chat","text":"fits"` + strings.Repeat(" ", chat.MaxFrame) + `}`
	frame = frame[:len(`{"type":"chat","text":"fits"`)+chat.MaxFrame-len(`{"type":"chat","text":"fits"}`)] + `}`
	if len(frame) != chat.MaxFrame {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	c.sendRaw(websocket.TextMessage, []byte(frame))
	if f := c.next("chat"); f["text"] != "fits" {
		t.Fatalf("chat = %v", f)
	}

	// One byte more closes the connection with 1009 and a reason.
	c.sendRaw(websocket.TextMessage, []byte(frame[:len(frame)-1]+" }"))
	c.expectClose(websocket.CloseMessageTooBig)

	// So does a much larger one.
	big, _ := w.join("viewer")
	// The server stops reading after 4097 bytes, so the write itself may fail.
	_ = big.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"chat","text":"`+strings.Repeat("a", 1<<20)+`"}`))
	big.expectClose(websocket.CloseMessageTooBig)

	// A binary frame: 1003.
	bin, _ := w.join("viewer")
	bin.sendRaw(websocket.BinaryMessage, []byte(`{"type":"chat","text":"hi"}`))
	bin.expectClose(websocket.CloseUnsupportedData)

	// Everyone else is still served.
	fresh, _ := w.join("viewer")
	fresh.send(map[string]any{"type": "chat", "text": "after the bad ones"})
	if f := other.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] != "fits" }, "chat"); f["text"] != "after the bad ones" {
		t.Fatalf("chat = %v", f)
	}
}
