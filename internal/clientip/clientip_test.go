package clientip

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrusted(t *testing.T) {
	got, err := ParseTrusted(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::ffff:172.16.0.1,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "172.16.0.1/32"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("%d: %s, want %s", i, got[i], want[i])
		}
	}
	if p, err := ParseTrusted(""); err != nil || len(p) != 0 {
		t.Errorf("empty list: %v %v", p, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "10.0.0", "localhost", "10.0.0.0/8,nope"} {
		_, err := ParseTrusted(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if name := bad[strings.LastIndex(bad, ",")+1:]; !strings.Contains(err.Error(), name) {
			t.Errorf("%q: the error does not name the entry: %v", bad, err)
		}
	}
}

func TestClient(t *testing.T) {
	trusted, err := ParseTrusted("10.0.0.0/8,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	res := &Resolver{Trusted: trusted}
	for _, tc := range []struct {
		name   string
		peer   string
		header map[string][]string
		want   string
	}{
		{"no proxy, no header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"an untrusted peer's header is ignored", "203.0.113.5:4000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.5"},
		{"one proxy", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"a spoofed hop on the left is not believed", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1"}}, "198.51.100.1"},
		{"two proxies", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"header lines count in order", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4", "198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"all trusted: the leftmost", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"10.1.1.1, 10.2.2.2"}}, "10.1.1.1"},
		{"trusted peer, no header", "10.0.0.2:5000", nil, "10.0.0.2"},
		{"unknown hop stops at its proxy", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4, unknown"}}, "10.0.0.2"},
		{"hop with a port", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1:6000"}}, "198.51.100.1"},
		{"IPv6 peer and hop", "[fd00::1]:5000", map[string][]string{"X-Forwarded-For": {"2001:db8::7"}}, "2001:db8::7"},
		{"mapped IPv4", "[::ffff:10.0.0.2]:5000", map[string][]string{"X-Forwarded-For": {"::ffff:198.51.100.1"}}, "198.51.100.1"},
		{"Forwarded", "10.0.0.2:5000", map[string][]string{"Forwarded": {`for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, for=10.3.3.3;by=10.0.0.2`}}, "2001:db8:cafe::17"},
		{"Forwarded, case and spaces", "10.0.0.2:5000", map[string][]string{"Forwarded": {`proto=http; For = 198.51.100.9`}}, "198.51.100.9"},
		{"Forwarded, obfuscated hop", "10.0.0.2:5000", map[string][]string{"Forwarded": {`for=_hidden`}}, "10.0.0.2"},
		{"Forwarded, a client's open quote swallows nothing", "10.0.0.2:5000", map[string][]string{"Forwarded": {`for="1.2.3.4, for=198.51.100.1`}}, "198.51.100.1"},
		{"X-Forwarded-For wins over Forwarded", "10.0.0.2:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "Forwarded": {"for=1.2.3.4"}}, "198.51.100.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for k, vs := range tc.header {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		if got := res.Client(r).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// Without trusted proxies every header is ignored.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.2:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := (&Resolver{}).Client(r).String(); got != "10.0.0.2" {
		t.Errorf("no trusted proxies: %s", got)
	}
}

func TestString(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.5:4000"
	if got := String(r); got != "203.0.113.5" {
		t.Errorf("peer: %s", got)
	}
	r = r.WithContext(WithClient(context.Background(), netip.MustParseAddr("198.51.100.1")))
	if got := String(r); got != "198.51.100.1" {
		t.Errorf("recorded: %s", got)
	}
	held := netip.MustParseAddr("192.0.2.9")
	r = r.WithContext(heldClient{Context: context.Background(), a: &held})
	if got := String(r); got != "192.0.2.9" {
		t.Errorf("held by a server's own context: %s", got)
	}
	held = netip.Addr{}
	if got := String(r); got != "203.0.113.5" {
		t.Errorf("held but not found: %s, want the peer", got)
	}
	r = &http.Request{RemoteAddr: "pipe"}
	if got := String(r.WithContext(context.Background())); got != "pipe" {
		t.Errorf("not an address: %s", got)
	}
}

// heldClient is a context that holds the client address the way web's
// per-request state does: a *netip.Addr answered for Key.
type heldClient struct {
	context.Context
	a *netip.Addr
}

func (c heldClient) Value(k any) any {
	if k == Key() {
		return c.a
	}
	return c.Context.Value(k)
}
