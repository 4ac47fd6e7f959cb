package analytics_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/analytics"
)

// Groups of 1 to 9 people are never shown, nor anything worked out from
// them; 0 and 10 or more are.
func TestPrivacyFloor(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		masked bool
	}{{0, false}, {1, true}, {9, true}, {10, false}, {12345, false}} {
		p := analytics.MaskPeople(tc.n)
		if p.FewerThan10 != tc.masked || (p.Count == nil) != tc.masked || (!tc.masked && *p.Count != tc.n) {
			t.Errorf("MaskPeople(%d) = %+v", tc.n, p)
		}
		b, _ := json.Marshal(p)
		if tc.masked && string(b) != `{"count":null,"fewer_than_10":true}` {
			t.Errorf("MaskPeople(%d) as JSON = %s", tc.n, b)
		}
		if want := map[bool]string{true: "fewer than 10", false: ""}[tc.masked]; tc.masked && p.String() != want {
			t.Errorf("MaskPeople(%d).String() = %q", tc.n, p.String())
		}
	}

	b := &analytics.Bank{BrandID: uuid.New(), From: time.Unix(0, 0), To: time.Unix(86400, 0), Bucket: 24 * time.Hour,
		Funnel:   analytics.FunnelCounts{Reached: 400, Engaged: 100, Tapped: 40, Held: 9, Bought: 0, BoughtAgain: 0},
		Audience: analytics.AudienceCounts{Followers: 25, Members: 3, RepeatBuyers: 10},
		Trend:    []analytics.TrendPoint{{At: time.Unix(0, 0), AudienceCounts: analytics.AudienceCounts{Followers: 7}, TappedNotBought: 31}},
		Replay:   analytics.ReplayFigures{Views: 12, Viewers: 4, Orders: 2, Units: 3}}
	in := b.Public()
	conv := func(i int) any {
		if c := in.Funnel[i].Conversion; c != nil {
			return *c
		}
		return nil
	}
	if conv(0) != nil || conv(1) != 0.25 || conv(2) != 0.4 {
		t.Errorf("conversions = %v %v %v", conv(0), conv(1), conv(2))
	}
	// Held is 9: masked, and neither its conversion nor the next one shows.
	if !in.Funnel[3].People.FewerThan10 || conv(3) != nil || conv(4) != nil {
		t.Errorf("held = %+v, conversions %v %v", in.Funnel[3], conv(3), conv(4))
	}
	if in.Funnel[4].People.Count == nil || *in.Funnel[4].People.Count != 0 {
		t.Errorf("bought = %+v", in.Funnel[4].People)
	}
	a := in.Audiences
	if *a.Followers.Count != 25 || !a.Members.FewerThan10 || *a.RepeatBuyers.Count != 10 ||
		!a.Trend[0].Followers.FewerThan10 || *a.Trend[0].TappedNotBought.Count != 31 {
		t.Errorf("audiences = %+v", a)
	}
	// Four replay viewers are a small group; plays and orders are events, shown exactly.
	if r := in.Replay; in.Bucket != "day" || !r.Viewers.FewerThan10 || r.Views != 12 || r.Orders != 2 || r.Units != 3 || r.GMV == nil {
		t.Errorf("bucket %q, replay %+v", in.Bucket, in.Replay)
	}
}

// Checkout names the causes it counts; the data bank must know each of
// them (an unknown one would be filed as "other").
func TestCausesMatchCheckout(t *testing.T) {
	named := []string{checkout.LostSoldOut, checkout.LostLimitReached, checkout.LostDropClosed, checkout.LostNotInDraw,
		checkout.LostHoldExpired, checkout.LostReleased, checkout.LostPaymentDeclined, checkout.LostCheckoutAbandoned}
	if !slices.Equal(named, analytics.Causes) {
		t.Fatalf("checkout's causes %v, the data bank's %v", named, analytics.Causes)
	}
}

func TestUnknownCauseIsOther(t *testing.T) {
	st := &batches{}
	r := &analytics.Recorder{Store: st, Node: "n"}
	show, offer := uuid.New(), uuid.New()
	r.LostIntent(show, offer, "gremlins")
	r.LostIntent(show, offer, analytics.CauseSoldOut)
	if err := r.Flush(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	d := st.sum(show)
	if len(d.Lost) != 2 || d.Lost[0].N != 1 || d.Lost[1].N != 1 || !slices.ContainsFunc(d.Lost, func(l analytics.Lost) bool { return l.Cause == analytics.CauseOther }) {
		t.Fatalf("lost = %+v", d.Lost)
	}
}

// Engagement flags: a viewer watched a minute (over two connections), one
// chatted, one only looked; each flag is sent once.
func TestEngagementFlags(t *testing.T) {
	st := &batches{}
	r := &analytics.Recorder{Store: st, Node: "n"}
	show, offer := uuid.New(), uuid.New()
	t0 := time.Date(2030, 5, 1, 18, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	r.Join(show, "u:long", at(0))
	r.Leave(show, "u:long", at(40))
	r.Join(show, "u:long", at(50))
	r.Join(show, "u:chat", at(0))
	r.Join(show, "a:look", at(0))
	r.Chat(show, "u:chat")
	r.Chat(show, "u:chat")
	r.CardTap(show, offer, "u:chat")
	r.Chat(show, "u:stranger")      // never joined here: counted, but no person
	r.Leave(show, "a:look", at(59)) // 59 s: not quite a minute
	if err := r.Flush(t.Context(), at(65)); err != nil {
		t.Fatal(err)
	}
	r.Reaction(show, "u:chat", 1)
	if err := r.Flush(t.Context(), at(120)); err != nil {
		t.Fatal(err)
	}
	want := []analytics.PersonFlags{
		{Viewer: "u:chat", Flags: analytics.Chatted | analytics.Tapped | analytics.Reacted | analytics.Watched},
		{Viewer: "u:long", Flags: analytics.Watched},
	}
	d := st.sum(show)
	if !slices.Equal(d.People, want) {
		t.Fatalf("people = %+v\nwant %+v", d.People, want)
	}
	if d.Chats != 3 {
		t.Fatalf("chats = %d", d.Chats)
	}
	// Every flag went out in exactly one batch.
	sent := map[string]analytics.Engagement{}
	for _, b := range st.got {
		for _, sd := range b.Shows {
			for _, p := range sd.People {
				if sent[p.Viewer]&p.Flags != 0 {
					t.Fatalf("%s: flags %b sent twice", p.Viewer, p.Flags)
				}
				sent[p.Viewer] |= p.Flags
			}
		}
	}
}
