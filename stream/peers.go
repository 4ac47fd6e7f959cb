package stream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// peerAPIs builds the PeerConnections of every session: the media socket
// (one UDP port, ICE-TCP on the same number) and the pion APIs over it, one
// per kind of offer (offerKind), built as they are first needed.
type peerAPIs struct {
	api *webrtc.API // publishers and relay pulls
	// apis are the APIs for offers, by what they need (offerKind), built
	// from apiBase as they are first needed; nil with a custom API.
	apiBase apiBase
	apisMu  sync.Mutex
	apis    map[apiKind]*webrtc.API
	mux     ice.UDPMux
	tcpMux  ice.TCPMux
	// addrs are the UDP mux's addresses, looked up once for all answers
	// (kindMux) rather than by each.
	addrs listenAddrs
	// cert is the DTLS certificate of every session (peerConfig).
	certMu sync.Mutex
	cert   *webrtc.Certificate
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
	se.LoggerFactory = &pionLogs{log: log}
	// One view of the host's interfaces for every session: without it each
	// ICE agent lists them (netlink dumps) and keeps its own copy.
	nw, err := stdnet.NewNet()
	if err != nil {
		conn.Close()
		if ln != nil {
			ln.Close()
		}
		return fmt.Errorf("stream: network interfaces: %w", err)
	}
	se.SetNet(nw)
	a.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Net: nw})
	se.SetICEUDPMux(a.mux)
	// AES-128-GCM first: one AES pass and a GHASH a packet, against AES-CM
	// plus HMAC-SHA1 (and AES-256-GCM's extra rounds buy a viewer nothing).
	// AES-CM stays for clients without GCM.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
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
	// (viewer.senderReports). Their media engines hold only the show's
	// codecs (viewerMediaEngine), built per show codec in apiOf.
	pubME := &webrtc.MediaEngine{}
	pubReg, viewReg := &interceptor.Registry{}, &interceptor.Registry{}
	err = pubME.RegisterDefaultCodecs()
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
	a.apiBase = apiBase{se: se, networks: networks, loopMux: loopMux, pubME: pubME, pubReg: pubReg, viewReg: viewReg}
	a.apis = map[apiKind]*webrtc.API{}
	a.api = a.apiOf(apiKind{nets: allNets}, nil)
	return nil
}

// apiBase is what the APIs for different offers share (apiOf).
type apiBase struct {
	se              webrtc.SettingEngine
	networks        []webrtc.NetworkType // the server's
	loopMux         bool                 // the media port is on loopback
	pubME           *webrtc.MediaEngine
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
//
// A viewer's API knows only the show's codecs (codecs, codecKey): its
// answer lists nothing else, and each PeerConnection's copy of the media
// engine is a couple of entries, not pion's two dozen with RTX.
type apiKind struct {
	viewer bool        // no interceptors, the show's codecs, DTLS server
	relay  bool        // a pull from or to another node: quick to notice it died
	lo     loopbackUse // what the client's candidates say of where it is
	nets   uint8       // the networks to gather (net* bits)
	codecs string      // a viewer's: the show's codecs (codecKey)
}

// loopbackUse is which of the media port's addresses an answer offers as
// candidates, from the offer's own candidates (scanCandidates).
type loopbackUse uint8

const (
	loNone loopbackUse = iota // the client is elsewhere: no loopback ones
	loAlso                    // some of its candidates are loopback: every address
	loOnly                    // all of them are: loopback only, one pair to check
)

// Network bits.
const (
	netUDP4 uint8 = 1 << iota
	netUDP6
	netTCP4
	netTCP6
	allNets = netUDP4 | netUDP6 | netTCP4 | netTCP6
)

// publisherAPI picks the API for a publisher's offer.
func (a *peerAPIs) publisherAPI(offer webrtc.SessionDescription) *webrtc.API {
	if a.apis == nil {
		return a.api // a custom API
	}
	return a.apiOf(offerKind(offer, false, false, nil), nil)
}

// viewerAPI picks the API for a viewer's offer to watch a show whose media
// is in codecs (the publisher's video layers and audio); relay: the viewer
// is a child node pulling the show.
func (a *peerAPIs) viewerAPI(offer webrtc.SessionDescription, codecs []webrtc.RTPCodecParameters, relay bool) *webrtc.API {
	if a.apis == nil {
		return a.api // a custom API
	}
	return a.apiOf(offerKind(offer, true, relay, codecs), codecs)
}

// offerKind is what an offer needs of the API that answers it.
func offerKind(offer webrtc.SessionDescription, viewer, relay bool, codecs []webrtc.RTPCodecParameters) apiKind {
	c := scanCandidates(offer.SDP)
	k := apiKind{viewer: viewer, relay: relay, nets: allNets}
	switch {
	case c.onlyLoopback:
		k.lo = loOnly
	case c.loopback:
		k.lo = loAlso
	}
	if c.complete && c.nets != 0 {
		k.nets = c.nets // nothing more will trickle in
	}
	if viewer {
		k.codecs = codecKey(codecs)
	}
	return k
}

// maxAPIs bounds the APIs kept: a kind's codecs come from publishers'
// offers, so their number is theirs to choose. Past it the map starts
// over (the APIs in use live on in their PeerConnections).
const maxAPIs = 256

// apiOf builds (once) the API of a kind; codecs are a viewer kind's.
func (a *peerAPIs) apiOf(k apiKind, codecs []webrtc.RTPCodecParameters) *webrtc.API {
	a.apisMu.Lock()
	defer a.apisMu.Unlock()
	if api := a.apis[k]; api != nil {
		return api
	}
	if len(a.apis) >= maxAPIs {
		clear(a.apis)
	}
	b := &a.apiBase
	set := b.se // a copy; it shares the sockets
	set.SetICEUDPMux(&kindMux{UDPMux: a.mux, addrs: &a.addrs, lo: k.lo, fam: udpFamilies(k.nets)})
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
	// For ICE-TCP; UDP candidates are kindMux's.
	set.SetIncludeLoopbackCandidate(k.lo != loNone || b.loopMux)
	if k.relay {
		set.SetICETimeouts(relayICEDisconnected, relayICEFailed, relayICEKeepalive)
	}
	me, reg := b.pubME, b.pubReg
	if k.viewer {
		reg = b.viewReg
		if vme, err := viewerMediaEngine(codecs); err == nil {
			me = vme
		} // else a codec pion does not take: every codec, as before
		// The server is the DTLS server (a=setup:passive): the client's
		// ClientHello follows its own ICE success at once, where a DTLS
		// client here would wait for this side's ICE to see the pair
		// nominated, a round trip later. And ICE has already proved the
		// client's address (its checks carry our password and get our
		// answers), which is what DTLS's cookie exchange would prove, for
		// another round trip.
		_ = set.SetAnsweringDTLSRole(webrtc.DTLSRoleServer) // fails only for DTLSRoleAuto
		set.SetDTLSInsecureSkipHelloVerify(true)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(set))
	a.apis[k] = api
	return api
}

// codecKey names a set of codecs, for apiKind.
func codecKey(codecs []webrtc.RTPCodecParameters) string {
	var b strings.Builder
	for _, c := range codecs {
		fmt.Fprintf(&b, "%s/%d/%d/%d;%s\n", strings.ToLower(c.MimeType), c.ClockRate, c.Channels, c.PayloadType, c.SDPFmtpLine)
	}
	return b.String()
}

// viewerFeedback is what a viewer's video may send back: keyframe
// requests, NACKs (answered from the ring) and REMB (steers the layer
// choice). No transport-cc: nothing here would read it.
var viewerFeedback = []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}

// viewerMediaEngine is a media engine with only codecs, the show's: the
// codec its publisher sends and its audio, without RTX (retransmissions
// go on the original SSRC, from the ring) or any other payload type.
func viewerMediaEngine(codecs []webrtc.RTPCodecParameters) (*webrtc.MediaEngine, error) {
	if len(codecs) == 0 {
		return nil, errors.New("no codecs")
	}
	me := &webrtc.MediaEngine{}
	seen := map[webrtc.PayloadType]bool{}
	for _, c := range codecs {
		if seen[c.PayloadType] {
			continue // a layer of the same codec
		}
		seen[c.PayloadType] = true
		kind := webrtc.RTPCodecTypeVideo
		var fb []webrtc.RTCPFeedback
		if strings.HasPrefix(strings.ToLower(c.MimeType), "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		} else {
			fb = viewerFeedback
		}
		err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.MimeType, ClockRate: c.ClockRate, Channels: c.Channels, SDPFmtpLine: c.SDPFmtpLine, RTCPFeedback: fb},
			PayloadType:        c.PayloadType,
		}, kind)
		if err != nil {
			return nil, fmt.Errorf("codec %s: %w", c.MimeType, err)
		}
	}
	return me, nil
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
	nets         uint8 // the networks of its candidates (net* bits)
	loopback     bool  // some are loopback
	onlyLoopback bool  // all are (false with none)
	complete     bool  // a=end-of-candidates: no more will trickle
}

func scanCandidates(sdp string) offerCandidates {
	var c offerCandidates
	others := false
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
		if ip != nil && ip.IsLoopback() {
			c.loopback = true
		} else {
			others = true
		}
	}
	c.onlyLoopback = c.loopback && !others
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
	return a.apiOf(apiKind{relay: true, nets: allNets}, nil)
}

// kindMux is the media socket's UDP mux as one kind of offer sees it: the
// addresses it lists are the ones the kind's answers carry as UDP
// candidates. pion's agent turns every listed address into a candidate of
// the session, each with a read goroutine, an 8 KB read buffer and pairs
// to check, and an address family the client has no candidate in costs a
// muxed connection (and its watcher goroutine) besides: a client on this
// machine offering only loopback gets just the loopback address (one
// pair, checked at once), a client elsewhere gets none of them (RFC 8445
// §5.1.1.1), and a client whose candidates are all IPv4 (or all IPv6) gets
// only the addresses of that family. (pion applies its own loopback rule
// only to its own mux type, and the network types of the setting engine
// not at all to a mux, so with this wrapper the rules are ours.)
type kindMux struct {
	ice.UDPMux
	addrs *listenAddrs
	lo    loopbackUse
	fam   family
}

func (m *kindMux) GetListenAddresses() []net.Addr { return m.addrs.get(m.UDPMux, m.lo, m.fam) }

// family is the IP families a kind's UDP candidates may be in.
type family uint8

const (
	famV4 family = 1 << iota
	famV6
	famBoth = famV4 | famV6
)

// udpFamilies is the families of the UDP networks in nets (net* bits);
// both when it has none (ICE-TCP only, or nothing known).
func udpFamilies(nets uint8) family {
	var f family
	if nets&netUDP4 != 0 {
		f |= famV4
	}
	if nets&netUDP6 != 0 {
		f |= famV6
	}
	if f == 0 {
		return famBoth
	}
	return f
}

// listenAddrs holds the mux's addresses, looked up once: pion's mux on a
// socket bound to every interface builds the list on each call (the host's
// addresses as of its start, so nothing fresher is lost).
type listenAddrs struct {
	once  sync.Once
	byUse [loOnly + 1][famBoth + 1][]net.Addr
}

// get is the addresses for use and families (none: both); callers only
// read the slice.
func (l *listenAddrs) get(mux ice.UDPMux, use loopbackUse, fam family) []net.Addr {
	if fam == 0 || fam > famBoth {
		fam = famBoth
	}
	l.once.Do(func() {
		all := mux.GetListenAddresses()
		for f := famV4; f <= famBoth; f++ {
			var in, loop, other []net.Addr
			for _, a := range all {
				if u, ok := a.(*net.UDPAddr); !ok || f == famBoth || (u.IP.To4() != nil) == (f == famV4) {
					in = append(in, a)
				}
			}
			// With nothing of the kind asked for, all there is: ICE then
			// fails or finds a way, as it would have without the filter.
			in = cmpOr(in, all)
			for _, a := range in {
				if u, ok := a.(*net.UDPAddr); ok && u.IP.IsLoopback() {
					loop = append(loop, a)
				} else {
					other = append(other, a)
				}
			}
			l.byUse[loAlso][f] = in
			l.byUse[loNone][f] = cmpOr(other, in)
			l.byUse[loOnly][f] = cmpOr(loop, in)
		}
	})
	return l.byUse[use][fam]
}

func cmpOr(a, b []net.Addr) []net.Addr {
	if len(a) > 0 {
		return a
	}
	return b
}

// peerConfig is the Configuration of every PeerConnection built here,
// with the node's DTLS certificate. Without one pion makes a key pair and
// a self-signed certificate for each connection, a good part of a join's
// CPU and allocations; one certificate for all is what browsers do too
// (each DTLS handshake still agrees fresh ECDHE keys).
func (a *peerAPIs) peerConfig(servers []webrtc.ICEServer) webrtc.Configuration {
	cfg := webrtc.Configuration{ICEServers: servers}
	if a.apis == nil {
		return cfg // a custom API: its owner's choice
	}
	if cert := a.certificate(); cert != nil {
		cfg.Certificates = []webrtc.Certificate{*cert}
	}
	return cfg
}

// certRenew is how long before its expiry (pion gives a month) the
// certificate is replaced; sessions that began with the old one keep it.
const certRenew = 7 * 24 * time.Hour

// certificate is the node's DTLS certificate, made on first use and
// renewed before it expires; nil if one cannot be made (pion then makes
// one per connection).
func (a *peerAPIs) certificate() *webrtc.Certificate {
	a.certMu.Lock()
	defer a.certMu.Unlock()
	if a.cert != nil && time.Until(a.cert.Expires()) > certRenew {
		return a.cert
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return a.cert
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return a.cert
	}
	a.cert = cert
	return cert
}
