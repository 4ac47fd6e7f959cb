package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"buy"}, "--base"},
		{[]string{"buy", "--base", "http://x", "--admin-token", "t", "--show", "s", "--setup=false"}, "--offer"},
		{[]string{"buy", "--base", "ftp://x", "--admin-token", "t", "--show", "s", "--offer", "o"}, "http://"},
		{[]string{"buy", "--base", "http://x", "--admin-token", "t", "--show", "s", "--offer", "o", "--setup=true"}, "contradict"},
		{[]string{"buy", "--base", "http://x", "--admin-token", "t", "--show", "s", "--offer", "o", "--taps", "0"}, "nothing to do"},
		{[]string{"buy", "--base", "http://x", "--admin-token", "t", "--show", "s", "--offer", "o", "--procs", "0"}, "--procs"},
		{[]string{"chat"}, "--base"},
		{[]string{"chat", "--base", "http://x", "--show", "s", "--viewers", "10", "--chatters", "8", "--reactions", "40"}, "at most --viewers"},
		{[]string{"chat", "--base", "http://x", "--show", "s", "--size", "10"}, "--size"},
		{[]string{"whip"}, "--base"},
		{[]string{"whip", "--base", "http://127.0.0.1:1", "--show", "s"}, "--key"},
		{[]string{"whip", "--base", "http://127.0.0.1:1", "--show", "s", "--key", "k", "--fps", "0"}, "--fps"},
		{[]string{"whip", "--base", "http://192.0.2.1:8080", "--show", "s", "--key", "k"}, "loopback"},
		{[]string{"whip", "--base", "http://127.0.0.1:1", "--show", "s", "--key", "k", "--file", "/nonexistent.ivf"}, "--file"},
		{[]string{"whep"}, "--base"},
		{[]string{"whep", "--base", "http://127.0.0.1:1", "--show", "s", "--viewers", "0"}, "--viewers"},
		{[]string{"whep", "--base", "http://127.0.0.1:1", "--show", "s", "--viewers", "100000"}, "--viewers"},
		{[]string{"whep", "--base", "http://192.0.2.1:8080", "--show", "s"}, "loopback"},
		{[]string{"whep", "--base", "http://127.0.0.1:1", "--show", "s", "--engine", "quic"}, "--engine"},
		{[]string{"whep", "--base", "http://127.0.0.1:1", "--show", "s", "--feedback"}, "--engine pion"},
		{[]string{"whep", "--base", "http://127.0.0.1:1", "--show", "s", "--read-interval", "2s"}, "--read-interval"},
		{[]string{"draw"}, "--base"},
		{[]string{"draw", "--base", "http://x", "--admin-token", "t", "--show", "s", "--brand-token", "b", "--brand", "br", "--host-token", "h", "--entries", "10", "--viewers", "11"}, "--viewers"},
		{[]string{"draw", "--nodes", "ftp://x", "--admin-token", "t", "--show", "s", "--brand-token", "b", "--brand", "br", "--host-token", "h"}, "http://"},
		{[]string{"stampede"}, "unknown command"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pavload %v = %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}
