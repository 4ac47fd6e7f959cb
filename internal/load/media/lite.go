package media

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5/deadline"
)

// The lite viewer: a WHEP receiver without a PeerConnection, so that one
// core holds a thousand of them. pion's receive path takes a packet through
// four goroutines and three buffer copies (ICE read loop, mux, SRTP
// session, track) with interceptors on top; here one goroutine per viewer
// reads its socket into one reused buffer, answers STUN, hands DTLS
// records to the handshake, and decrypts SRTP in place with pion/srtp's
// Context. What it needs of ICE is small: the server is on this machine
// (requireLoopback), so one host candidate pair, nominated at once (we are
// the controlling agent, RFC 8445 §8.1.1 aggressive style), consent
// refreshed by the run's keepalive loop. It sends no RTCP: the server needs
// none from a viewer (receiver reports only steer simulcast choice).

// Payload types the lite offer uses (pion's defaults, so the server's
// answer keeps them).
const (
	ptVP8  = 96
	ptH264 = 102
	ptOpus = 111
)

// liteIdentity is the DTLS certificate every lite viewer of a run shares,
// with its SDP fingerprint.
type liteIdentity struct {
	cert        tls.Certificate
	fingerprint string // "sha-256 AB:CD:…"
}

func newLiteIdentity() (*liteIdentity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pavload"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &liteIdentity{
		cert:        tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		fingerprint: "sha-256 " + sdpFingerprint(der),
	}, nil
}

// sdpFingerprint is SHA-256 of a DER certificate as SDP writes it.
func sdpFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// liteConn is one lite viewer's transport: its socket, ICE credentials,
// DTLS and SRTP state.
type liteConn struct {
	sock       *liteSocket
	ufrag, pwd string
	tiebreaker uint64

	// Set from the answer before the reader starts.
	remote                 netip.AddrPort
	remoteUfrag, remotePwd string
	remoteFingerprint      string
	dtlsClient             bool   // the answer said setup:passive
	profile                string // the SRTP profile agreed (set by handshake)
	// tick, when set, is when the reader reads again once media flows
	// (nil: it reads each datagram at once).
	tick *readTick

	iceUp   chan struct{} // closed at the first binding success
	iceOnce sync.Once
	dtlsIn  *liteDTLSConn
	srtp    atomic.Pointer[srtp.Context] // set once DTLS is up
	closing atomic.Bool
	quit    chan struct{} // closed by close
	done    chan struct{} // the reader has returned
	// detached: the server's SRTP came through, so its side of DTLS is
	// done too; the handshake's goroutines are let go (its conn reads
	// nothing more and writes nothing, not even a close_notify).
	detached atomic.Bool

	mu   sync.Mutex
	dtls *dtls.Conn // once the handshake began
}

func newLiteConn() (*liteConn, error) {
	// Hundreds of sockets take turns on one CPU: listenLite gives each a
	// roomy buffer, so that a late read is not counted as the server's loss.
	sock, err := listenLite()
	if err != nil {
		return nil, err
	}
	tb, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		sock.Close()
		return nil, err
	}
	c := &liteConn{sock: sock, ufrag: randToken(8), pwd: randToken(24), tiebreaker: tb.Uint64(),
		iceUp: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	c.dtlsIn = &liteDTLSConn{c: c, in: make(chan []byte, 16), closed: make(chan struct{}), rd: deadline.New()}
	return c, nil
}

// liteRcvBuf is each lite socket's SO_RCVBUF request (the kernel caps it at
// net.core.rmem_max, and takes memory only for what is queued): on a busy
// machine a reader may wait seconds for the CPU, and a loopback datagram
// of 1.2 KB costs the buffer about 2.3 KB.
const liteRcvBuf = 4 << 20

func randToken(n int) string {
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alpha[int(b[i])%len(alpha)]
	}
	return string(b)
}

// offer is the SDP offer: receive-only VP8/H.264 video and Opus audio,
// bundled and rtcp-muxed, with this socket as the host candidate on each
// address in ips.
func (c *liteConn) offer(id *liteIdentity, ips []netip.Addr) string {
	port := c.sock.LocalAddr().(*net.UDPAddr).Port
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("v=0")
	w("o=- %d 2 IN IP4 127.0.0.1", c.tiebreaker>>1)
	w("s=-")
	w("t=0 0")
	w("a=group:BUNDLE 0 1")
	w("a=fingerprint:%s", id.fingerprint)
	w("a=ice-ufrag:%s", c.ufrag)
	w("a=ice-pwd:%s", c.pwd)
	media := func(kind, mid string, pts string, lines ...string) {
		w("m=%s 9 UDP/TLS/RTP/SAVPF %s", kind, pts)
		w("c=IN IP4 0.0.0.0")
		w("a=setup:actpass")
		w("a=mid:%s", mid)
		w("a=recvonly")
		w("a=rtcp-mux")
		for _, l := range lines {
			w("%s", l)
		}
		for i, ip := range ips {
			w("a=candidate:%d 1 udp %d %s %d typ host", i+1, 2130706431-i, ip, port)
		}
		w("a=end-of-candidates")
	}
	media("video", "0", fmt.Sprintf("%d %d", ptVP8, ptH264),
		fmt.Sprintf("a=rtpmap:%d VP8/90000", ptVP8),
		fmt.Sprintf("a=rtpmap:%d H264/90000", ptH264),
		fmt.Sprintf("a=fmtp:%d level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", ptH264))
	media("audio", "1", strconv.Itoa(ptOpus),
		fmt.Sprintf("a=rtpmap:%d opus/48000/2", ptOpus),
		fmt.Sprintf("a=fmtp:%d minptime=10;useinbandfec=1", ptOpus))
	return b.String()
}

// applyAnswer reads what the lite viewer needs of the answer: ICE
// credentials, fingerprint, DTLS role and the candidate to use (IPv4 UDP,
// loopback first).
func (c *liteConn) applyAnswer(sdp string) error {
	var cands []netip.AddrPort
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "a="), ":")
		if !ok || !strings.HasPrefix(line, "a=") {
			continue
		}
		switch k {
		case "ice-ufrag":
			c.remoteUfrag = cmp(c.remoteUfrag, v)
		case "ice-pwd":
			c.remotePwd = cmp(c.remotePwd, v)
		case "fingerprint":
			if c.remoteFingerprint == "" && strings.HasPrefix(strings.ToLower(v), "sha-256 ") {
				c.remoteFingerprint = strings.ToUpper(strings.TrimSpace(v[len("sha-256 "):]))
			}
		case "setup":
			c.dtlsClient = v == "passive"
		case "candidate":
			f := strings.Fields(v)
			if len(f) < 8 || !strings.EqualFold(f[2], "udp") || f[7] != "host" {
				continue
			}
			ip, err := netip.ParseAddr(f[4])
			port, perr := strconv.Atoi(f[5])
			if err != nil || perr != nil || !ip.Is4() || port <= 0 || port > 65535 {
				continue
			}
			cands = append(cands, netip.AddrPortFrom(ip, uint16(port)))
		}
	}
	if c.remoteUfrag == "" || c.remotePwd == "" || c.remoteFingerprint == "" {
		return errors.New("the answer has no ICE credentials or no sha-256 fingerprint")
	}
	for _, a := range cands {
		if a.Addr().IsLoopback() {
			c.remote = a
			return nil
		}
	}
	if len(cands) == 0 {
		return errors.New("the answer has no IPv4 UDP host candidate")
	}
	c.remote = cands[0]
	return nil
}

// cmp keeps the first value seen.
func cmp(have, v string) string {
	if have != "" {
		return have
	}
	return strings.TrimSpace(v)
}

// bindingRequest is a connectivity check to the server, nominating the pair.
func (c *liteConn) bindingRequest() ([]byte, error) {
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(c.remoteUfrag+":"+c.ufrag),
		iceControlling(c.tiebreaker), stun.RawAttribute{Type: stun.AttrUseCandidate},
		stun.RawAttribute{Type: stun.AttrPriority, Value: []byte{0x6e, 0xff, 0xff, 0xff}},
		stun.NewShortTermIntegrity(c.remotePwd), stun.Fingerprint)
	if err != nil {
		return nil, err
	}
	return m.Raw, nil
}

type iceControlling uint64

func (t iceControlling) AddTo(m *stun.Message) error {
	v := make([]byte, 8)
	for i := range 8 {
		v[i] = byte(uint64(t) >> (56 - 8*i))
	}
	m.Add(stun.AttrICEControlling, v)
	return nil
}

func (c *liteConn) sendCheck() error {
	b, err := c.bindingRequest()
	if err != nil {
		return err
	}
	_, err = c.sock.WriteToUDPAddrPort(b, c.remote)
	return err
}

// handleSTUN answers the server's checks and notes our own's success.
func (c *liteConn) handleSTUN(b []byte, from netip.AddrPort) {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil {
		return
	}
	switch m.Type {
	case stun.BindingSuccess:
		if stun.NewShortTermIntegrity(c.remotePwd).Check(m) == nil {
			c.iceOnce.Do(func() { close(c.iceUp) })
		}
	case stun.BindingRequest:
		var u stun.Username
		if u.GetFrom(m) != nil || !strings.HasPrefix(u.String(), c.ufrag+":") ||
			stun.NewShortTermIntegrity(c.pwd).Check(m) != nil {
			return
		}
		resp, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())},
			stun.NewShortTermIntegrity(c.pwd), stun.Fingerprint)
		if err == nil {
			_, _ = c.sock.WriteToUDPAddrPort(resp.Raw, from)
		}
	}
}

// connectICE sends checks every 50 ms until one succeeds.
func (c *liteConn) connectICE(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if err := c.sendCheck(); err != nil {
			return fmt.Errorf("ICE check: %w", err)
		}
		select {
		case <-c.iceUp:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("ICE: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// handshake runs DTLS over the socket and makes the SRTP context.
func (c *liteConn) handshake(ctx context.Context, id *liteIdentity) error {
	cfg := &dtls.Config{
		Certificates:           []tls.Certificate{id.cert},
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
		ExtendedMasterSecret:   dtls.RequireExtendedMasterSecret,
		ClientAuth:             dtls.RequireAnyClientCert,
		InsecureSkipVerify:     true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || sdpFingerprint(raw[0]) != c.remoteFingerprint {
				return errors.New("the server's certificate does not match its fingerprint")
			}
			return nil
		},
	}
	raddr := net.UDPAddrFromAddrPort(c.remote)
	var (
		conn *dtls.Conn
		err  error
	)
	if c.dtlsClient {
		conn, err = dtls.Client(c.dtlsIn, raddr, cfg)
	} else {
		conn, err = dtls.Server(c.dtlsIn, raddr, cfg)
	}
	if err != nil {
		return fmt.Errorf("DTLS: %w", err)
	}
	c.mu.Lock()
	c.dtls = conn
	c.mu.Unlock()
	if c.closing.Load() {
		_ = conn.Close()
		return net.ErrClosed
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("DTLS handshake: %w", err)
	}
	prof, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return errors.New("DTLS: no SRTP profile agreed")
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return errors.New("DTLS: no connection state")
	}
	scfg := srtp.Config{Profile: srtp.ProtectionProfile(prof)}
	if err := scfg.ExtractSessionKeysFromDTLS(&state, c.dtlsClient); err != nil {
		return fmt.Errorf("SRTP keys: %w", err)
	}
	sctx, err := srtp.CreateContext(scfg.Keys.RemoteMasterKey, scfg.Keys.RemoteMasterSalt, scfg.Profile)
	if err != nil {
		return fmt.Errorf("SRTP context: %w", err)
	}
	c.profile = srtpProfileName(prof)
	c.srtp.Store(sctx)
	return nil
}

// close ends the handshake's conn (a close_notify to the server) and the
// socket, which ends the reader.
func (c *liteConn) close() {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	conn := c.dtls
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
	c.dtlsIn.shut()
	close(c.quit)
	_ = c.sock.Close()
}

// liteSink is what the reader does with a decrypted RTP packet.
type liteSink func(h *rtp.Header, pkt []byte, hl int, now time.Time)

// readLoop is the viewer's one goroutine: it reads datagrams, a batch at
// a time, into buffers it keeps and demultiplexes them by the first byte
// (RFC 7983): STUN, DTLS, SRTP. RTCP from the server (sender reports) is
// not decrypted: nothing here reads it.
func (c *liteConn) readLoop(sink liteSink, reads *atomic.Int64) {
	defer close(c.done)
	br, err := newBatchReader(c.sock, liteBatch, 1600)
	if err != nil {
		return
	}
	plain := make([]byte, 1600)
	var h rtp.Header
	// SRTP that comes before this side has its keys: the server, done
	// with the handshake a moment earlier, sends its cached keyframe at
	// once. It is kept (with its receive time) until the keys are in.
	type early struct {
		b  []byte
		at time.Time
	}
	var pending []early
	srtpIn := func(b []byte, at time.Time) {
		sctx := c.srtp.Load()
		if sctx == nil {
			if len(pending) < 1024 {
				if at.IsZero() {
					at = time.Now()
				}
				pending = append(pending, early{append([]byte(nil), b...), at})
			}
			return
		}
		for _, e := range pending {
			if out, err := sctx.DecryptRTP(plain[:0], e.b, &h); err == nil {
				sink(&h, out, h.MarshalSize(), e.at)
			}
		}
		pending = nil
		out, err := sctx.DecryptRTP(plain[:0], b, &h)
		if err != nil {
			return
		}
		if !c.detached.Load() {
			c.detached.Store(true)
			c.dtlsIn.shut()
		}
		if at.IsZero() {
			at = time.Now()
		}
		sink(&h, out, h.MarshalSize(), at)
	}
	for {
		media := c.tick != nil && c.detached.Load()
		n, err := br.read(!media)
		if err != nil {
			if c.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n == 0 && c.closing.Load() {
			return
		}
		if n > 0 {
			reads.Add(1)
		}
		var now time.Time // one clock reading a batch, when the kernel gives none
		for i := range n {
			b, from, at := br.packet(i)
			if len(b) == 0 {
				continue
			}
			switch first := b[0]; {
			case first < 4:
				c.handleSTUN(b, from)
			case first >= 20 && first < 64:
				c.dtlsIn.push(b)
			case first >= 128 && first < 192:
				if len(b) >= 2 && b[1] >= 192 && b[1] <= 223 {
					continue // RTCP (RFC 5761 §4)
				}
				if at.IsZero() {
					if now.IsZero() {
						now = time.Now()
					}
					at = now
				}
				srtpIn(b, at)
			}
		}
		// Once media flows, let packets gather in the socket between
		// reads: one wake-up and one system call then take several, and
		// the kernel's receive times keep the figures exact. During the
		// handshake every datagram is read at once.
		if media && n < liteBatch {
			select {
			case <-c.tick.wait():
			case <-c.quit:
			}
		}
	}
}

// liteBatch is how many datagrams one read takes at most.
const liteBatch = 16

// liteDTLSConn is the net.PacketConn the DTLS handshake runs on: the
// reader pushes DTLS records in, writes go out of the viewer's socket.
type liteDTLSConn struct {
	c      *liteConn
	in     chan []byte
	once   sync.Once
	closed chan struct{}
	rd     *deadline.Deadline
	// records counts the DTLS datagrams that came (a failure says whether
	// the server ever began).
	records atomic.Int64
}

func (d *liteDTLSConn) push(b []byte) {
	d.records.Add(1)
	select {
	case d.in <- append([]byte(nil), b...):
	default: // the handshake is not reading: DTLS retransmits
	}
}

func (d *liteDTLSConn) shut() { d.once.Do(func() { close(d.closed) }) }

func (d *liteDTLSConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case b := <-d.in:
		return copy(p, b), net.UDPAddrFromAddrPort(d.c.remote), nil
	case <-d.closed:
		return 0, nil, net.ErrClosed
	case <-d.rd.Done():
		return 0, nil, liteTimeout{}
	}
}

func (d *liteDTLSConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	if d.c.detached.Load() {
		return len(p), nil
	}
	select {
	case <-d.closed:
		return 0, net.ErrClosed
	default:
	}
	return d.c.sock.WriteToUDPAddrPort(p, d.c.remote)
}

func (d *liteDTLSConn) Close() error        { d.shut(); return nil }
func (d *liteDTLSConn) LocalAddr() net.Addr { return d.c.sock.LocalAddr() }
func (d *liteDTLSConn) SetDeadline(t time.Time) error {
	d.rd.Set(t)
	return nil
}
func (d *liteDTLSConn) SetReadDeadline(t time.Time) error {
	d.rd.Set(t)
	return nil
}
func (d *liteDTLSConn) SetWriteDeadline(time.Time) error { return nil }

type liteTimeout struct{}

func (liteTimeout) Error() string   { return "i/o timeout" }
func (liteTimeout) Timeout() bool   { return true }
func (liteTimeout) Temporary() bool { return true }

// negotiateLite POSTs c's offer and applies the answer.
func negotiateLite(ctx context.Context, hc *http.Client, c *liteConn, id *liteIdentity, ips []netip.Addr, endpoint, token string) (*whipSession, error) {
	sess, answer, err := exchange(ctx, hc, endpoint, token, c.offer(id, ips))
	if err != nil {
		return nil, err
	}
	if err := c.applyAnswer(answer); err != nil {
		return sess, fmt.Errorf("applying the answer: %w", err)
	}
	return sess, nil
}

// offerIPs is the addresses a lite viewer offers: loopback only, or every
// IPv4 address of this machine.
func offerIPs(loopbackOnly bool) ([]netip.Addr, error) {
	if loopbackOnly {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing local addresses: %w", err)
	}
	var ips []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok && n.IP.To4() != nil {
				ips = append(ips, ip)
			}
		}
	}
	if len(ips) == 0 {
		return nil, errors.New("no IPv4 address on this machine")
	}
	return ips, nil
}

func srtpProfileName(p dtls.SRTPProtectionProfile) string {
	switch p {
	case dtls.SRTP_AEAD_AES_128_GCM:
		return "AEAD_AES_128_GCM"
	case dtls.SRTP_AEAD_AES_256_GCM:
		return "AEAD_AES_256_GCM"
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		return "AES128_CM_HMAC_SHA1_80"
	case dtls.SRTP_AES128_CM_HMAC_SHA1_32:
		return "AES128_CM_HMAC_SHA1_32"
	}
	return fmt.Sprintf("0x%04x", uint16(p))
}

// processRSS is this process's resident memory in bytes (Linux; 0 elsewhere).
func processRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// readTick wakes every lite reader at once, every period: the runtime then
// runs them back to back instead of waking (and going idle) once per
// viewer, as a timer each would.
type readTick struct {
	ch atomic.Pointer[chan struct{}]
}

func newReadTick() *readTick {
	t := &readTick{}
	ch := make(chan struct{})
	t.ch.Store(&ch)
	return t
}

// wait is closed at the next tick.
func (t *readTick) wait() <-chan struct{} { return *t.ch.Load() }

// run ticks every period until stop is closed, then once more for good.
func (t *readTick) run(period time.Duration, stop <-chan struct{}) {
	tk := time.NewTicker(period)
	defer tk.Stop()
	for {
		next := make(chan struct{})
		close(*t.ch.Swap(&next))
		select {
		case <-stop:
			// Readers that still wait are woken by their socket's close.
			return
		case <-tk.C:
		}
	}
}
