package main

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestSetGCTarget(t *testing.T) {
	for _, tc := range []struct {
		name, gogc string
		want       []int // the targets set
		logged     string
	}{
		{name: "GOGC unset: serve chooses", gogc: "", want: []int{mediaGCPercent}, logged: "source=\"serve's default"},
		{name: "GOGC set: kept", gogc: "200", want: nil, logged: "gogc=200 source=GOGC"},
		{name: "GOGC off: kept", gogc: "off", want: nil, logged: "gogc=off source=GOGC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			getenv := func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			}
			var set []int
			setGCTarget(log, getenv, func(p int) int { set = append(set, p); return 100 })
			if len(set) != len(tc.want) || (len(set) == 1 && set[0] != tc.want[0]) {
				t.Fatalf("targets set: %v, want %v", set, tc.want)
			}
			if !strings.Contains(buf.String(), tc.logged) {
				t.Fatalf("log %q does not say %q", buf.String(), tc.logged)
			}
		})
	}
	if mediaGCPercent <= 0 || mediaGCPercent >= 100 {
		t.Fatalf("mediaGCPercent %d: a media node's target is below the runtime's 100 and above 0 (0 collects all the time)", mediaGCPercent)
	}
}

// TestServeGCTarget: the target the running server reports (the runtime's
// go_gc_gogc_percent) is serve's own when GOGC is not set, and GOGC's when
// it is.
func TestServeGCTarget(t *testing.T) {
	for _, tc := range []struct{ gogc, want string }{
		{"", strconv.Itoa(mediaGCPercent)},
		{"80", "80"},
	} {
		t.Run("GOGC="+tc.gogc, func(t *testing.T) {
			metrics := freeAddr(t)
			cmd := exec.Command(os.Args[0], "serve", "--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--media-port", "0",
				"--log-format", "json", "--metrics-addr", metrics)
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GOGC=") {
					env = append(env, kv)
				}
			}
			if tc.gogc != "" {
				env = append(env, "GOGC="+tc.gogc)
			}
			cmd.Env = append(env, "PAVILION_TEST_MAIN=1", "PAVILION_DATABASE_URL=", "PAVILION_REDIS_URL=")
			startCmd(t, cmd)
			code, body := get(t, "http://"+metrics+"/metrics", "")
			if code != 200 || !strings.Contains(string(body), "\ngo_gc_gogc_percent "+tc.want+"\n") {
				t.Fatalf("metrics = %d, want go_gc_gogc_percent %s\n%.300s", code, tc.want, body)
			}
		})
	}
}
