package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"
)

// peerAPIs builds the PeerConnections of every session: the media socket
// (one UDP port, ICE-TCP on the same number) and the pion APIs over it, one
// per kind of offer (apiFor), built as they are first needed.
type peerAPIs struct {
	api *webrtc.API // publishers and relay pulls
	// apis are the APIs for offers, by what they need (apiFor), built
	// from apiBase as they are first needed; nil with a custom API.
	apiBase apiBase
	apisMu  sync.Mutex
	apis    map[apiKind]*webrtc.API
	mux     ice.UDPMux
	tcpMux  ice.TCPMux
}

// port is the UDP port media arrives on (0 with a custom API).
func (a *peerAPIs) port() int {
	if a.mux == nil {
		return 0
	}
	if u, ok := a.mux.GetListenAddresses()[0].(*net.UDPAddr); ok {
		return u.Port
	}
	return 0
}

// buildAPI sets up the media engine, interceptors and sockets. Viewers get
// no NACK responder from pion: NACKs are answered from the show's shared
// ring (viewer.go), so a viewer costs no packet buffer of its own. The
// publisher side gets NACK generation, receiver reports and transport-wide
// congestion feedback, which browsers need to ramp their send bitrate.
func (a *peerAPIs) buildAPI(addr string, noTCP bool, publicIPs []string, log *slog.Logger) (err error) {
	if addr == "" {
		addr = ":8189"
	}
	conn, ln, err := a.listen(addr, noTCP)
	if err != nil {
		return err
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		// One socket carries every viewer's media: fast starts send a whole
		// keyframe group at once, so give bursts room (the kernel caps these
		// at net.core.[rw]mem_max).
		_ = uc.SetReadBuffer(4 << 20)
		_ = uc.SetWriteBuffer(4 << 20)
		if sb := newSendBatch(uc); sb != nil {
			conn = sb // sendmmsg (sendbatch.go)
		}
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = pionLogs{log: log}
	a.mux = webrtc.NewICEUDPMux(nil, conn)
	se.SetICEUDPMux(a.mux)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if ln != nil {
		a.tcpMux = webrtc.NewICETCPMux(nil, ln, 64)
		se.SetICETCPMux(a.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	ua, ok := conn.LocalAddr().(*net.UDPAddr)
	loopMux := ok && ua.IP.IsLoopback() // loopback is all there is
	se.SetIncludeLoopbackCandidate(loopMux)
	if len(publicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: publicIPs, AsCandidateType: webrtc.ICECandidateTypeHost}); err != nil {
			a.closeSockets()
			return fmt.Errorf("stream: public IP: %w", err)
		}
	}

	// Publishers get NACK generation, receiver reports and transport-wide
	// congestion feedback (browsers need it to ramp their bitrate). Viewers
	// get no interceptor: every interceptor costs a goroutine and state per
	// connection, and at hundreds of viewers that adds up; the sender
	// reports they need (for lip sync) are written by their writers
	// (viewer.senderReports).
	pubME, viewME := &webrtc.MediaEngine{}, &webrtc.MediaEngine{}
	pubReg, viewReg := &interceptor.Registry{}, &interceptor.Registry{}
	err = errors.Join(pubME.RegisterDefaultCodecs(), viewME.RegisterDefaultCodecs())
	if err == nil {
		var gen *nack.GeneratorInterceptorFactory
		gen, err = nack.NewGeneratorInterceptor()
		if err == nil {
			pubReg.Add(gen)
			err = errors.Join(
				webrtc.ConfigureRTCPReports(pubReg),
				webrtc.ConfigureSimulcastExtensionHeaders(pubME),
				webrtc.ConfigureTWCCSender(pubME, pubReg),
			)
		}
	}
	if err != nil {
		a.closeSockets()
		return fmt.Errorf("stream: media engine: %w", err)
	}
	a.apiBase = apiBase{se: se, networks: networks, loopMux: loopMux, pubME: pubME, pubReg: pubReg, viewME: viewME, viewReg: viewReg}
	a.apis = map[apiKind]*webrtc.API{}
	a.api = a.apiOf(apiKind{nets: allNets})
	return nil
}

// apiBase is what the APIs for different offers share (apiFor).
type apiBase struct {
	se              webrtc.SettingEngine
	networks        []webrtc.NetworkType // the server's
	loopMux         bool                 // the media port is on loopback
	pubME, viewME   *webrtc.MediaEngine
	pubReg, viewReg *interceptor.Registry
}

// apiKind is what an offer needs of the API that answers it.
//
// Loopback addresses are no candidates for the world (RFC 8445 §5.1.1.1),
// but a client on this machine that offers only its loopback addresses (a
// local encoder, a load generator) would otherwise reach us only as a
// peer-reflexive candidate, which its ICE agent may hold back for a second
// before using it (pion's prflx acceptance wait).
//
// Every candidate costs a viewer a socket's state, a read goroutine and
// buffers (for ICE-TCP, a TCP connection's state per local address): an
// offer that lists its candidates gets only the networks it can use.
type apiKind struct {
	viewer   bool  // fewer interceptors
	relay    bool  // a pull from a parent node: quick to notice it died
	loopback bool  // loopback candidates: the client offers some
	nets     uint8 // the networks to gather (net* bits)
}

// Network bits.
const (
	netUDP4 uint8 = 1 << iota
	netUDP6
	netTCP4
	netTCP6
	allNets = netUDP4 | netUDP6 | netTCP4 | netTCP6
)

// apiFor picks the API for an offer.
func (a *peerAPIs) apiFor(offer webrtc.SessionDescription, viewer bool) *webrtc.API {
	if a.apis == nil {
		return a.api // a custom API
	}
	c := scanCandidates(offer.SDP)
	k := apiKind{viewer: viewer, loopback: c.loopback, nets: allNets}
	if c.complete && c.nets != 0 {
		k.nets = c.nets // nothing more will trickle in
	}
	return a.apiOf(k)
}

// apiOf builds (once) the API of a kind.
func (a *peerAPIs) apiOf(k apiKind) *webrtc.API {
	a.apisMu.Lock()
	defer a.apisMu.Unlock()
	if api := a.apis[k]; api != nil {
		return api
	}
	b := &a.apiBase
	set := b.se // a copy; it shares the sockets
	var nets []webrtc.NetworkType
	for _, n := range b.networks {
		if k.nets&netBit(n) != 0 {
			nets = append(nets, n)
		}
	}
	if len(nets) == 0 {
		nets = b.networks // none in common: ICE fails, as it would anyway
	}
	set.SetNetworkTypes(nets)
	set.SetIncludeLoopbackCandidate(k.loopback || b.loopMux)
	if k.relay {
		set.SetICETimeouts(relayICEDisconnected, relayICEFailed, relayICEKeepalive)
	}
	me, reg := b.pubME, b.pubReg
	if k.viewer {
		me, reg = b.viewME, b.viewReg
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(set))
	a.apis[k] = api
	return api
}

func netBit(n webrtc.NetworkType) uint8 {
	switch n {
	case webrtc.NetworkTypeUDP4:
		return netUDP4
	case webrtc.NetworkTypeUDP6:
		return netUDP6
	case webrtc.NetworkTypeTCP4:
		return netTCP4
	case webrtc.NetworkTypeTCP6:
		return netTCP6
	}
	return 0
}

// offerCandidates is what an SDP says of its ICE candidates.
type offerCandidates struct {
	nets     uint8 // the networks of its candidates (net* bits)
	loopback bool
	complete bool // a=end-of-candidates: no more will trickle
}

func scanCandidates(sdp string) offerCandidates {
	var c offerCandidates
	for line := range strings.SplitSeq(sdp, "\n") {
		line = strings.TrimSpace(line)
		if line == "a=end-of-candidates" {
			c.complete = true
			continue
		}
		rest, ok := strings.CutPrefix(line, "a=candidate:")
		if !ok {
			continue
		}
		// foundation component transport priority address port typ ...
		f := strings.Fields(rest)
		if len(f) < 5 {
			continue
		}
		v4, v6 := netUDP4, netUDP6
		if strings.EqualFold(f[2], "tcp") {
			v4, v6 = netTCP4, netTCP6
		}
		ip := net.ParseIP(f[4])
		switch {
		case ip == nil: // a hostname (mDNS): either family
			c.nets |= v4 | v6
		case ip.To4() != nil:
			c.nets |= v4
		default:
			c.nets |= v6
		}
		c.loopback = c.loopback || (ip != nil && ip.IsLoopback())
	}
	return c
}

// listen binds the media port over UDP and, for ICE-TCP, the same number
// over TCP. With port 0 the kernel's pick for UDP may be taken over TCP;
// then another pick is tried.
func (a *peerAPIs) listen(addr string, noTCP bool) (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		conn, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("stream: listen udp %s: %w", addr, err)
		}
		ua, _ := conn.LocalAddr().(*net.UDPAddr)
		if noTCP || ua == nil {
			return conn, nil, nil
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(hostOf(addr), strconv.Itoa(ua.Port)))
		if err == nil {
			return conn, ln, nil
		}
		conn.Close()
		if port != "0" || attempt >= 20 {
			return nil, nil, fmt.Errorf("stream: listen tcp for ICE-TCP on port %d: %w", ua.Port, err)
		}
	}
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return h
}

func (a *peerAPIs) closeSockets() error {
	var err error
	if a.tcpMux != nil {
		err = a.tcpMux.Close()
	}
	if a.mux != nil {
		err = errors.Join(err, a.mux.Close())
	}
	return err
}

// relayAPI builds relay pulls (relayICEDisconnected and the rest).
func (a *peerAPIs) relayAPI() *webrtc.API {
	if a.apis == nil {
		return a.api // a custom API
	}
	return a.apiOf(apiKind{relay: true, nets: allNets})
}

// relayAPIFor answers a child node's pull: a viewer's API with the relay
// ICE timeouts.
func (a *peerAPIs) relayAPIFor(offer webrtc.SessionDescription) *webrtc.API {
	if a.apis == nil {
		return a.api // a custom API
	}
	c := scanCandidates(offer.SDP)
	k := apiKind{viewer: true, relay: true, loopback: c.loopback, nets: allNets}
	if c.complete && c.nets != 0 {
		k.nets = c.nets
	}
	return a.apiOf(k)
}
