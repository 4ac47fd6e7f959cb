package main

import (
	"net"
	"slices"
	"testing"
)

func ipNet(t *testing.T, cidr string) net.Addr {
	t.Helper()
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}

// TestLANURLs: on every interface, the banner names the addresses a phone
// on the same network can open, and nothing it cannot.
func TestLANURLs(t *testing.T) {
	up := net.FlagUp | net.FlagRunning
	nics := []nic{
		{flags: up | net.FlagLoopback, addrs: []net.Addr{ipNet(t, "127.0.0.1/8"), ipNet(t, "::1/128")}},
		{flags: up, addrs: []net.Addr{ipNet(t, "fe80::1/64"), ipNet(t, "2001:db8::23/64"), ipNet(t, "192.168.1.23/24")}},
		// A bridge with nothing plugged in is up but not running.
		{flags: net.FlagUp, addrs: []net.Addr{ipNet(t, "172.17.0.1/16")}},
		{flags: up, addrs: []net.Addr{ipNet(t, "10.0.0.5/8"), ipNet(t, "169.254.3.4/16")}},
	}
	for _, tc := range []struct {
		addr string
		want []string
	}{
		{"[::]:8080", []string{"http://192.168.1.23:8080", "http://10.0.0.5:8080", "http://[2001:db8::23]:8080"}},
		{":8080", []string{"http://192.168.1.23:8080", "http://10.0.0.5:8080", "http://[2001:db8::23]:8080"}},
		{"0.0.0.0:9000", []string{"http://192.168.1.23:9000", "http://10.0.0.5:9000"}},
		// Bound to one address: the banner's own URL is the only one.
		{"127.0.0.1:8080", nil},
		{"192.168.1.23:8080", nil},
		{"localhost:8080", nil},
	} {
		if got := lanURLs(tc.addr, nics); !slices.Equal(got, tc.want) {
			t.Errorf("listening on %s: lanURLs = %q, want %q", tc.addr, got, tc.want)
		}
	}
	var many []net.Addr
	for i := range 10 {
		many = append(many, &net.IPNet{IP: net.IPv4(10, 0, 1, byte(i+1)), Mask: net.CIDRMask(24, 32)})
	}
	if got := lanURLs(":8080", []nic{{flags: up, addrs: many}}); len(got) != maxLANURLs {
		t.Errorf("ten addresses gave %d URLs, want at most %d", len(got), maxLANURLs)
	}
}
