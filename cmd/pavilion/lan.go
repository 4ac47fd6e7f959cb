package main

import (
	"net"
	"slices"
)

// nic is what lanURLs needs of a network interface.
type nic struct {
	flags net.Flags
	addrs []net.Addr
}

// maxLANURLs bounds the banner's list: a machine with many bridges and
// tunnels would otherwise bury the lines that matter.
const maxLANURLs = 4

// lanURLs lists the URLs another device on the same network (a phone on
// the same Wi-Fi) can open, when the server listens on every interface at
// httpAddr: one per address of an interface that is up and running, not
// loopback, not link-local; IPv4 first (what a person types), IPv6 only when
// the listener takes it. None when the server listens on one address.
func lanURLs(httpAddr string, nics []nic) []string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return nil
	}
	listen := net.ParseIP(host)
	if host != "" && (listen == nil || !listen.IsUnspecified()) {
		return nil
	}
	v4only := listen != nil && listen.To4() != nil // 0.0.0.0
	var v4, v6 []string
	for _, n := range nics {
		if n.flags&net.FlagUp == 0 || n.flags&net.FlagRunning == 0 || n.flags&net.FlagLoopback != 0 {
			continue
		}
		for _, a := range n.addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue // loopback, link-local, multicast
			}
			u := "http://" + net.JoinHostPort(ipn.IP.String(), port)
			if ipn.IP.To4() != nil {
				v4 = append(v4, u)
			} else if !v4only {
				v6 = append(v6, u)
			}
		}
	}
	out := slices.Compact(append(v4, v6...))
	return out[:min(len(out), maxLANURLs)]
}

// machineNICs reads this machine's interfaces; none when it cannot.
func machineNICs() []nic {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []nic
	for _, i := range ifs {
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		out = append(out, nic{flags: i.Flags, addrs: addrs})
	}
	return out
}
