// Package clientip finds the address of the client behind the operator's
// reverse proxies. A request's peer is the client unless the peer is a
// trusted proxy; then the proxies' X-Forwarded-For (or RFC 7239 Forwarded)
// header is read from the right, hop by hop, and the first address that is
// not a trusted proxy is the client. Hops to its left were written by the
// client itself and are never believed. Rate limits, logs and analytics all
// key on this one address; nothing else reads forwarding headers.
package clientip

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrusted parses a comma-separated list of CIDR prefixes (10.0.0.0/8,
// fd00::/8) or single addresses (which stand for themselves). A bad entry
// is an error that names it.
func ParseTrusted(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8 or fd00::/8", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or a CIDR prefix such as 10.0.0.0/8", s)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Resolver finds the client address of requests. The zero value trusts no
// proxy: the peer is the client.
type Resolver struct {
	Trusted []netip.Prefix
}

func (res *Resolver) trusted(a netip.Addr) bool {
	for _, p := range res.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the client address of r. It is the peer (r.RemoteAddr)
// unless the peer is trusted; then the forwarding header is read from the
// right: each trusted hop vouches for the one before it, and the first hop
// that is not trusted is the client. A hop that is not an address (nginx's
// "unknown", RFC 7239's obfuscated "_node") stops the walk at the proxy that
// wrote it. X-Forwarded-For is read when present, else Forwarded: a proxy
// that writes only Forwarded must drop an X-Forwarded-For the client sent.
// The result is invalid only when RemoteAddr is not an address (tests).
func (res *Resolver) Client(r *http.Request) netip.Addr {
	client := parseHop(r.RemoteAddr)
	if !client.IsValid() || len(res.Trusted) == 0 || !res.trusted(client) {
		return client
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0 && res.trusted(client); i-- {
		a := parseHop(hops[i])
		if !a.IsValid() {
			break
		}
		client = a
	}
	return client
}

// forwardedFor lists the hops of X-Forwarded-For, else the for= of each
// Forwarded element, oldest first. Every header line counts, in order.
// Elements are split on commas without regard to quotes: a client's
// unbalanced quote must not swallow the hops proxies append after it, and
// no address or port holds a comma.
func forwardedFor(h http.Header) []string {
	var hops []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			for hop := range strings.SplitSeq(line, ",") {
				hops = append(hops, strings.TrimSpace(hop))
			}
		}
		return hops
	}
	for _, line := range h.Values("Forwarded") {
		for elem := range strings.SplitSeq(line, ",") {
			hop := "" // an element without for= is a hop we cannot place
			for pair := range strings.SplitSeq(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					hop = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

// parseHop reads "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:4711"; anything else is invalid.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

type key struct{}

// WithClient records the client address in ctx, for the handlers below
// the middleware that found it.
func WithClient(ctx context.Context, a netip.Addr) context.Context {
	return context.WithValue(ctx, key{}, a)
}

// Key is the context key FromContext looks the address up by. A server
// that keeps each request's state in one context value of its own (web
// does, rather than one context layer per middleware) answers Value(Key())
// with a *netip.Addr pointing into that state instead of calling WithClient:
// no context layer, and no allocation per lookup.
func Key() any { return key{} }

// FromContext returns the client address recorded by WithClient, or held
// where the *netip.Addr found under Key points.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	switch a := ctx.Value(key{}).(type) {
	case netip.Addr:
		return a, a.IsValid()
	case *netip.Addr:
		if a != nil {
			return *a, a.IsValid()
		}
	}
	return netip.Addr{}, false
}

// String returns the client address of r as recorded in its context, else
// its peer address, else RemoteAddr as it is: what logs and rate limits key on.
func String(r *http.Request) string {
	if a, ok := FromContext(r.Context()); ok {
		return a.String()
	}
	if a := parseHop(r.RemoteAddr); a.IsValid() {
		return a.String()
	}
	return r.RemoteAddr
}
