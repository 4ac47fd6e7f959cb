package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/show"
)

func TestViewerCannotModerate(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	viewer, _ := w.join("viewer")
	target := w.userID("member")
	frames := map[string]map[string]any{
		"delete": {"type": "moderate", "action": "delete", "seq": 1},
		"mute":   {"type": "moderate", "action": "mute", "user_id": target, "seconds": 60},
		"unmute": {"type": "moderate", "action": "unmute", "user_id": target},
		"ban":    {"type": "moderate", "action": "ban", "user_id": target},
		"unban":  {"type": "moderate", "action": "unban", "user_id": target},
		"slow":   {"type": "moderate", "action": "slow", "seconds": 30},
		"words":  {"type": "moderate", "action": "words", "words": []string{"x"}},
		"pin":    {"type": "pin", "offer_id": w.offer},
		"unpin":  {"type": "pin"},
		"end":    {"type": "end"},
	}
	for id, f := range frames {
		f["id"] = id
		viewer.send(f)
		if e := viewer.errorFor(id); e["code"] != "forbidden" {
			t.Errorf("%s by a viewer: %v", id, e)
		}
	}
	// Nothing happened: no moderation event, the show is not ended.
	viewer.send(map[string]any{"type": "chat", "text": "still open"})
	for {
		f := viewer.until(func(map[string]any) bool { return true }, "the chat message")
		if f["type"] == "chat" {
			break
		}
		if seqOf(f) != 0 {
			t.Fatalf("a viewer's moderation went through: %v", f)
		}
	}
	if sh, _ := w.db.ShowByID(context.Background(), w.show); sh.State == show.Ended {
		t.Fatal("a viewer ended the show")
	}
	// Anonymous viewers are told to sign in.
	anon, _ := w.join("")
	anon.sendRefused(map[string]any{"type": "moderate", "id": "a", "action": "slow", "seconds": 5}, "unauthorized", "anonymous moderation")
	// A host of another show is a viewer here.
	w.addUser("other-host", account.RoleHost)
	other, welcome := w.join("other-host")
	if obj(welcome, "you")["can_moderate"] != false {
		t.Fatalf("welcome.you = %v", welcome["you"])
	}
	other.sendRefused(map[string]any{"type": "moderate", "id": "o", "action": "slow", "seconds": 5}, "forbidden", "another show's host")
}

func TestDeleteMessage(t *testing.T) {
	for _, staff := range []string{"host", "brand"} {
		t.Run(staff, func(t *testing.T) {
			w := newWorld(t, memory.NewBus())
			mod, welcome := w.join(staff)
			if obj(welcome, "you")["can_moderate"] != true {
				t.Fatalf("welcome.you = %v", welcome["you"])
			}
			viewer, _ := w.join("viewer")
			viewer.send(map[string]any{"type": "chat", "text": "keep me"})
			viewer.send(map[string]any{"type": "chat", "text": "delete me"})
			var target uint64
			mod.until(func(f map[string]any) bool {
				if f["text"] == "delete me" {
					target = seqOf(f)
				}
				return target != 0
			}, "the message to delete")
			mod.send(map[string]any{"type": "moderate", "action": "delete", "seq": target})
			for _, c := range []*client{mod, viewer} {
				ev := c.next("moderation")
				if ev["action"] != "delete" || uint64(num(ev, "target")) != target || seqOf(ev) <= target {
					t.Fatalf("moderation event = %v", ev)
				}
			}
			_, later := w.join("member")
			var texts []string
			for _, m := range later["recent"].([]any) {
				m := m.(map[string]any)
				texts = append(texts, m["text"].(string))
				if uint64(num(m, "seq")) == target {
					t.Fatalf("the deleted message is still in a welcome: %v", later["recent"])
				}
			}
			if len(texts) != 1 || texts[0] != "keep me" {
				t.Fatalf("recent = %v", texts)
			}
		})
	}
}

func TestMute(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	host, _ := w.join("host")
	viewer, _ := w.join("viewer")
	vid := w.userID("viewer")

	host.send(map[string]any{"type": "moderate", "action": "mute", "user_id": vid, "seconds": 3600})
	ev := viewer.next("moderation") // applied in the room before it is delivered
	if ev["action"] != "mute" || ev["subject"] != vid.String() || ev["until"] == nil {
		t.Fatalf("mute event = %v", ev)
	}
	viewer.sendRefused(map[string]any{"type": "chat", "id": "m1", "text": "can I talk?"}, "forbidden", "muted chat")
	// A welcome tells the muted viewer until when.
	_, welcome := w.join("viewer")
	if obj(welcome, "you")["muted_until"] != ev["until"] {
		t.Fatalf("welcome.you = %v, want muted_until %v", welcome["you"], ev["until"])
	}
	// Others still talk; a moderator cannot mute themself.
	w.join("member")
	host.sendRefused(map[string]any{"type": "moderate", "id": "self", "action": "mute", "user_id": w.userID("host"), "seconds": 60}, "invalid", "self-mute")

	host.send(map[string]any{"type": "moderate", "action": "unmute", "user_id": vid})
	if ev := viewer.next("moderation"); ev["action"] != "unmute" {
		t.Fatalf("unmute event = %v", ev)
	}
	viewer.send(map[string]any{"type": "chat", "text": "thanks"})
	if f := viewer.next("chat"); f["text"] != "thanks" {
		t.Fatalf("chat after unmute = %v", f)
	}

	// A mute ends by itself at its time.
	host.send(map[string]any{"type": "moderate", "action": "mute", "user_id": vid, "seconds": 1})
	ev = viewer.next("moderation")
	until, err := time.Parse(time.RFC3339Nano, ev["until"].(string))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(until) + 10*time.Millisecond)
	viewer.send(map[string]any{"type": "chat", "text": "back"})
	if f := viewer.until(func(f map[string]any) bool { return f["type"] == "chat" || f["type"] == "error" }, "chat"); f["text"] != "back" {
		t.Fatalf("chat after the mute ran out = %v", f)
	}
}

func TestBan(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	host, _ := w.join("brand")
	viewer, _ := w.join("viewer")
	second, _ := w.join("viewer") // every connection of the banned user goes
	member, _ := w.join("member")
	host.send(map[string]any{"type": "moderate", "action": "ban", "user_id": w.userID("viewer")})
	if ev := member.next("moderation"); ev["action"] != "ban" || ev["subject"] != w.userID("viewer").String() {
		t.Fatalf("ban event = %v", ev)
	}
	viewer.expectClose(4003)
	second.expectClose(4003)
	w.refused("viewer", "", http.StatusForbidden)
	// Others stay.
	member.send(map[string]any{"type": "chat", "text": "bye"})
	member.next("chat")

	host.send(map[string]any{"type": "moderate", "action": "unban", "user_id": w.userID("viewer")})
	member.next("moderation")
	back, _ := w.join("viewer")
	back.send(map[string]any{"type": "chat", "text": "I'm back"})
	back.next("chat")
}

func TestSlowMode(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	host, _ := w.join("host")
	viewer, _ := w.join("viewer")
	host.send(map[string]any{"type": "moderate", "action": "slow", "seconds": 600})
	if ev := viewer.next("moderation"); ev["action"] != "slow" || num(ev, "seconds") != 600 {
		t.Fatalf("slow event = %v", ev)
	}
	if _, welcome := w.join("member"); num(welcome, "slow_mode_seconds") != 600 {
		t.Fatalf("welcome slow_mode_seconds = %v", welcome["slow_mode_seconds"])
	}
	viewer.send(map[string]any{"type": "chat", "id": "1", "text": "first"})
	viewer.sendRefused(map[string]any{"type": "chat", "id": "2", "text": "second"}, "rate_limited", "second message in slow mode")
	// Staff are not slowed down.
	for i := range 3 {
		host.send(map[string]any{"type": "chat", "id": fmt.Sprint(i), "text": fmt.Sprintf("host %d", i)})
	}
	for i := range 3 {
		f := host.until(func(f map[string]any) bool {
			return f["type"] == "chat" && f["user"].(map[string]any)["name"] == "Lina Host" || f["type"] == "error"
		}, "host chat")
		if f["text"] != fmt.Sprintf("host %d", i) {
			t.Fatalf("host message %d: %v", i, f)
		}
	}
	host.send(map[string]any{"type": "moderate", "action": "slow", "seconds": 0})
	viewer.next("moderation")
	viewer.send(map[string]any{"type": "chat", "text": "free again"})
	viewer.until(func(f map[string]any) bool { return f["text"] == "free again" }, "chat after slow mode")
}

func TestBlockedWords(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	host, _ := w.join("host")
	viewer, _ := w.join("viewer")
	host.send(map[string]any{"type": "moderate", "action": "words", "words": []string{"  FakeBag ", "scam"}})
	ev := viewer.next("moderation")
	if ev["action"] != "words" || fmt.Sprint(ev["words"]) != "[fakebag scam]" {
		t.Fatalf("words event = %v", ev)
	}
	for i, text := range []string{"buy a fakebag here", "FAKEBAG!!", "total SCAM", "scammers", "FaKeBaG"} {
		id := fmt.Sprint("w", i)
		viewer.send(map[string]any{"type": "chat", "id": id, "text": text})
		if e := viewer.errorFor(id); e["code"] != "invalid" {
			t.Fatalf("%q: %v", text, e)
		}
	}
	viewer.send(map[string]any{"type": "chat", "text": "a real bag"})
	viewer.until(func(f map[string]any) bool { return f["text"] == "a real bag" }, "an allowed message")
	// Staff may say them (to warn about them).
	host.send(map[string]any{"type": "chat", "text": "beware of the fakebag sellers"})
	viewer.until(func(f map[string]any) bool { return f["text"] == "beware of the fakebag sellers" }, "the host's warning")
	// An empty list clears it.
	host.send(map[string]any{"type": "moderate", "action": "words", "words": []string{}})
	viewer.next("moderation")
	viewer.send(map[string]any{"type": "chat", "text": "scam?"})
	viewer.until(func(f map[string]any) bool { return f["text"] == "scam?" }, "a message after the list was cleared")
}

// The per-user limit: a burst of 10, then rate_limited, for chat and
// reactions alike. The limiter refills at 5 a second, so of 60 frames sent
// at once all could pass only if handling them took 10 s.
func TestChatRateLimit(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	w.addUser("reactor")
	for name, frame := range map[string]func(i int) map[string]any{
		"viewer":  func(i int) map[string]any { return map[string]any{"type": "chat", "text": fmt.Sprint("message ", i)} },
		"reactor": func(i int) map[string]any { return map[string]any{"type": "react", "emoji": "heart"} },
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := w.join(name)
			const n = 60
			for i := range n {
				f := frame(i)
				f["id"] = fmt.Sprint(i)
				c.send(f)
			}
			c.send(map[string]any{"type": "pin", "id": "done"}) // forbidden: answered after the 60
			limited := map[int]bool{}
			for {
				f := c.next("error")
				if f["id"] == "done" {
					break
				}
				if f["code"] != "rate_limited" {
					t.Fatalf("error = %v", f)
				}
				var i int
				fmt.Sscan(f["id"].(string), &i)
				limited[i] = true
			}
			for i := range 10 {
				if limited[i] {
					t.Fatalf("frame %d of the first 10 was refused", i)
				}
			}
			if len(limited) == 0 {
				t.Fatalf("none of %d frames was refused", n)
			}
		})
	}
	// Other users are not affected.
	member, _ := w.join("member")
	member.send(map[string]any{"type": "chat", "text": "my turn"})
	member.until(func(f map[string]any) bool { return f["text"] == "my turn" }, "another user's message")
}

func TestMembersOnlyShow(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	ctx := context.Background()
	sh, err := w.db.ShowByID(ctx, w.show)
	if err != nil {
		t.Fatal(err)
	}
	sh.Visibility = show.Members
	if err := w.db.UpdateShow(ctx, sh); err != nil {
		t.Fatal(err)
	}
	w.refused("viewer", "", http.StatusNotFound)
	w.refused("", "", http.StatusNotFound)
	for _, who := range []string{"member", "host", "brand"} {
		c, welcome := w.join(who)
		if obj(welcome, "show")["title"] != "Autumn Runway Live" {
			t.Fatalf("%s: welcome = %v", who, welcome)
		}
		c.ws.Close()
	}
	// An unknown show is as missing as an invisible one.
	w2 := *w
	w2.show = w.offer // not a show
	w2.refused("member", "", http.StatusNotFound)
}

// Chat text is data: whatever it holds reaches every client unchanged, as a
// JSON string.
func TestChatTextIsData(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	sender, _ := w.join("viewer")
	reader, _ := w.join("member")
	texts := []string{
		`<img src=x onerror=alert(1)>`,
		`</script><script>alert("x")</script>`,
		`&lt;b&gt; &amp; "quotes" 'single' \backslash\ \u003c`,
		"<!-- --> ]]> {{constructor}} ${x} \u2028 line\nbreak ☃ 🎉",
	}
	for _, text := range texts {
		sender.send(map[string]any{"type": "chat", "text": text})
	}
	for _, text := range texts {
		var raw []byte
		var f map[string]any
		for f == nil || f["type"] != "chat" {
			var err error
			f, raw, err = reader.read(wait)
			if err != nil {
				t.Fatal(err)
			}
		}
		var typed struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &typed); err != nil || typed.Text != text {
			t.Fatalf("sent %q, got %q (%v) in %s", text, typed.Text, err, raw)
		}
		if !json.Valid(raw) {
			t.Fatalf("frame is not JSON: %s", raw)
		}
	}
	// The same in a welcome's recent messages.
	_, welcome := w.join("")
	for i, m := range welcome["recent"].([]any) {
		if got := m.(map[string]any)["text"]; got != texts[i] {
			t.Fatalf("recent %d = %q, want %q", i, got, texts[i])
		}
	}
	_ = chat.MaxChat
}
