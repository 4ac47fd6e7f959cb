package buy

import (
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/loadtest"
)

// TestClientsAgree runs the same scenarios with --client std and --client
// lite, one tap in flight so that the order is the same: every outcome
// (won, sold out, over the limit, a JSON or plain server error, a broken
// or a missing answer) is counted the same, and the checks come out the same.
func TestClientsAgree(t *testing.T) {
	cases := []struct {
		name  string
		shop  func(*fakeShop)
		args  []string
		wants []string // outcomes that must be there
	}{
		{"sold out", func(*fakeShop) {}, []string{"--units", "30"}, []string{outReserved, outSoldOut}},
		{"limit, cold connections", func(*fakeShop) {}, []string{"--units", "50", "--warm=false"}, []string{outReserved, outLimitReached}},
		{"server errors", func(f *fakeShop) { f.failEvery, f.plainEvery = 7, 11 },
			[]string{"--units", "30"}, []string{outReserved, outSoldOut, "503 unavailable", "502"}},
		{"broken answers", func(f *fakeShop) { f.broken = true }, []string{"--units", "30"}, []string{"transport_error"}},
		{"no answer", func(f *fakeShop) { f.silent = true }, []string{"--units", "30", "--taps", "1", "--buyers", "3", "--timeout", "200ms"},
			[]string{"timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outcomes := map[string]map[string]int64{}
			checks := map[string][]string{}
			for _, client := range []string{clientStd, clientLite} {
				f := newFakeShop()
				tc.shop(f)
				demo := startShop(t, f)
				args := append([]string{"--demo", demo, "--buyers", "20", "--limit", "2", "--taps", "3", "--concurrency", "1",
					"--create-workers", "1", "--client", client}, tc.args...)
				_, rep, _ := loadtest.Run[buyReport](t, Run, args...)
				if rep.Burst == nil || rep.Config.Client != client {
					t.Fatalf("%s: no burst in the report (client %q)", client, rep.Config.Client)
				}
				if _, _, reserves := f.counts(); int64(reserves) != rep.Burst.Attempts {
					t.Errorf("%s: the server got %d taps, the report counts %d", client, reserves, rep.Burst.Attempts)
				}
				if rep.Burst.ClientCPUPerAttemptUs <= 0 {
					t.Errorf("%s: no client CPU per attempt: %+v", client, rep.Burst)
				}
				outcomes[client] = map[string]int64{}
				for name, o := range rep.Burst.Outcomes {
					outcomes[client][name] = o.Count
				}
				for _, c := range rep.Verify.Checks {
					checks[client] = append(checks[client], c.Name+" "+c.Result)
				}
			}
			if !maps.Equal(outcomes[clientStd], outcomes[clientLite]) {
				t.Errorf("outcomes differ:\n std  %v\n lite %v", outcomes[clientStd], outcomes[clientLite])
			}
			for _, w := range tc.wants {
				if outcomes[clientLite][w] == 0 {
					t.Errorf("no %q outcome in %v: the scenario does not test what it says", w, outcomes[clientLite])
				}
			}
			if !slices.Equal(checks[clientStd], checks[clientLite]) {
				t.Errorf("checks differ:\n std  %v\n lite %v", checks[clientStd], checks[clientLite])
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"code":"sold_out","message":"sold out"}}` + "\n": "sold_out",
		`{"error":{"code":"limit_reached","message":"x"}}`:          "limit_reached",
		`{"error":{"code":"unavailable","message":"x"}}`:            "unavailable",
		`{"error": {"message":"x","code":"rate_limited"}}`:          "rate_limited", // another shape: decoded
		`{"error":{"code":"a\"b","message":"x"}}`:                   `a"b`,
		"bad gateway\n": "",
		"":              "",
	} {
		if got := errorCode([]byte(body)); got != want {
			t.Errorf("errorCode(%q) = %q, want %q", body, got, want)
		}
	}
}

// The sold-out answer, the one a stampede meets most, costs no allocation.
func TestErrorCodeAllocs(t *testing.T) {
	body := []byte(`{"error":{"code":"sold_out","message":"sold out"}}`)
	if n := testing.AllocsPerRun(100, func() { _ = errorCode(body) }); n != 0 {
		t.Errorf("errorCode allocates %v times per call", n)
	}
}

func TestClientFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--client", "curl"}, "--client must be lite or std"},
		{[]string{"--base", "https://shop.example", "--client", "lite"}, "plain HTTP"},
		{[]string{"--base", "https://shop.example"}, "plain HTTP"}, // lite is the default
	} {
		args := append([]string{"--base", "http://127.0.0.1:1", "--admin-token", "t", "--show", "s", "--offer", "o"}, tc.args...)
		err := Run(t.Context(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("buy %v = %v, want an error about %q", tc.args, err, tc.want)
		}
	}
	// std speaks HTTPS: the flags are fine (the run then fails to connect).
	err := Run(t.Context(), []string{"--base", "https://127.0.0.1:1", "--admin-token", "t", "--show", "s", "--offer", "o", "--client", "std"}, io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("--client std with https: %v, want a connection error only", err)
	}
}

// A lite tap on a kept-alive connection allocates nothing: its request is
// the buyer's prepared head, the key and the body in a reused buffer, and
// the answer is read into a reused one.
func TestLiteTapAllocs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answer := []byte("HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: 51\r\n\r\n" +
		`{"error":{"code":"sold_out","message":"sold out"}}` + "\n")
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		buf := make([]byte, 4096)
		for {
			// Each request comes in one write, small enough for one read.
			if _, err := nc.Read(buf); err != nil {
				return
			}
			if _, err := nc.Write(answer); err != nil {
				return
			}
		}
	}()
	cfg := &buyConfig{client: clientLite, maxSamples: 10}
	c, err := apiclient.NewClient("http://"+ln.Addr().String(), 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStampede(c, cfg, "run", "offer", []apiclient.Account{{Token: "pvt_a"}, {Token: "pvt_b"}})
	if err != nil {
		t.Fatal(err)
	}
	tp := s.newTapper(t.Context())
	defer tp.close()
	tp.warm(t.Context())
	next := sustainNext("run", 2, 1)
	var key []byte
	k := 0
	tap := func() {
		var b int
		b, key = next(0, k, key[:0])
		k++
		r, err := tp.reserve(t.Context(), b, key)
		if err != nil || outcomeOf(r, err) != outSoldOut {
			t.Fatalf("tap %d: %+v %v", k, r, err)
		}
	}
	tap() // the buffers grow once
	if n := testing.AllocsPerRun(200, tap); n != 0 {
		t.Errorf("a lite tap allocates %v times", n)
	}
}
