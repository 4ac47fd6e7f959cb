package media

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// The WebRTC side of pavload whip and whep: one webrtc.API per process
// (codecs, interceptors and ICE settings are built once and shared by every
// PeerConnection), the WHIP/WHEP exchange (RFC 9725, non-trickle: the offer
// carries every candidate) and the guard that keeps media on this machine.

// rtcOptions is how the PeerConnections are built.
type rtcOptions struct {
	// publisher: NACK responses and sender reports; otherwise, like a
	// browser viewer: NACKs, receiver reports, transport-wide feedback.
	publisher bool
	// feedback turns the interceptors on (off: no RTCP but what pion always sends).
	feedback bool
	// localOnly limits ICE to this machine's addresses, both ends.
	localOnly bool
	// loopbackOnly offers loopback candidates only (a client on the
	// server's machine that uses nothing else).
	loopbackOnly bool
}

// newRTCAPI builds the shared API: VP8, H.264 and Opus, host candidates
// over UDP4, no mDNS, loopback included.
func newRTCAPI(o rtcOptions) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if o.feedback {
		if err := webrtc.ConfigureNack(m, reg); err != nil {
			return nil, err
		}
		if err := webrtc.ConfigureRTCPReports(reg); err != nil {
			return nil, err
		}
		if o.publisher {
			if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
				return nil, err
			}
		} else if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
			return nil, err
		}
	}
	var se webrtc.SettingEngine
	base, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	se.SetNet(roomyNet{base})
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if o.localOnly {
		local, err := localIPs()
		if err != nil {
			return nil, err
		}
		keep := func(ip net.IP) bool { return local[ip.String()] }
		se.SetIPFilter(keep)
		se.SetRemoteIPFilter(keep)
	}
	if o.loopbackOnly {
		se.SetIPFilter(net.IP.IsLoopback)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// localIPs is every address of this machine's interfaces.
func localIPs() (map[string]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing local addresses: %w", err)
	}
	ips := map[string]bool{}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips[n.IP.String()] = true
		}
	}
	return ips, nil
}

// requireLoopback refuses a base URL whose host is not this machine's
// loopback: pavload starts hundreds of media sessions, which is a test of
// one's own server, never of someone else's.
func requireLoopback(ctx context.Context, base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("--base %q is not a URL", base)
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s has no address", host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("--base %s is not a loopback address (%s): the media load only runs against a server on this machine", base, ip)
		}
	}
	return nil
}

// statusError is a WHIP/WHEP answer other than 201.
type statusError struct {
	status     int
	body       string
	retryAfter time.Duration
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%d %s", e.status, e.body)
}

// newStatusError is resp (not a 201) as an error, with its Retry-After.
func newStatusError(resp *http.Response, body []byte) *statusError {
	e := &statusError{status: resp.StatusCode, body: strings.TrimSpace(string(body))}
	if len(e.body) > 200 {
		e.body = e.body[:200] + "…"
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.retryAfter = time.Duration(s) * time.Second
	}
	return e
}

// whipSession is one established WHIP or WHEP session: its resource URL,
// for the DELETE.
type whipSession struct {
	location string
	// postAt is when the POST that got the answer was sent (the offer
	// was complete by then).
	postAt time.Time
}

// negotiate creates pc's offer, waits for its candidates, POSTs it to
// endpoint (with the bearer token when set) and applies the answer.
func negotiate(ctx context.Context, hc *http.Client, pc *webrtc.PeerConnection, endpoint, token string) (*whipSession, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("creating the offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, fmt.Errorf("setting the offer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sess, answer, err := exchange(ctx, hc, endpoint, token, pc.LocalDescription().SDP)
	if err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return nil, fmt.Errorf("applying the answer: %w", err)
	}
	return sess, nil
}

// exchange POSTs offer to endpoint (with the bearer token when set) and
// returns the session the 201 names and the answer it carries. Both the
// pion viewer and the lite one negotiate through it, so the WHIP/WHEP
// exchange has one reading of the server's answer.
func exchange(ctx context.Context, hc *http.Client, endpoint, token, offer string) (*whipSession, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	postAt := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
	if err != nil {
		return nil, "", fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, "", newStatusError(resp, body)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, "", errors.New("201 without a Location")
	}
	locURL, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return nil, "", fmt.Errorf("Location %q: %w", loc, err)
	}
	return &whipSession{location: locURL.String(), postAt: postAt}, string(body), nil
}

// end DELETEs the session; a 404 means the server had ended it already.
func (s *whipSession) end(ctx context.Context, hc *http.Client, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.location, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("DELETE %s: %d", s.location, resp.StatusCode)
	}
	return nil
}

// newMediaHTTP is the HTTP client for the WHIP/WHEP exchanges: keep-alive,
// no proxy, conns connections at most.
func newMediaHTTP(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

// udpRcvbufErrors is the kernel's count of UDP datagrams dropped for a
// full receive buffer, every socket of the machine together (Linux; -1
// elsewhere). A rise during a run means some receiver, often pavload
// itself, did not read fast enough: loss the server is not to blame for.
func udpRcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var names []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					return -1
				}
				return v
			}
		}
		return -1
	}
	return -1
}

// ownUDPDrops is what the kernel dropped, for a full receive buffer, on
// this process's UDP sockets that are open now (Linux: the drops column of
// /proc/net/udp and udp6 for the inodes of /proc/self/fd); false when it
// cannot tell.
func ownUDPDrops() (int64, bool) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var drops int64
	read := false
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		read = true
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // the header
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			fl := strings.Fields(sc.Text())
			if len(fl) < 13 || !mine[fl[9]] {
				continue
			}
			if d, err := strconv.ParseInt(fl[12], 10, 64); err == nil {
				drops += d
			}
		}
	}
	return drops, read
}

// roomyNet gives every ICE socket a large receive buffer: hundreds of
// viewers in one process take turns on one CPU, and a socket left with the
// default ~200 KB overflows while its reader waits for a turn, which would
// be counted as the server's loss.
type roomyNet struct{ *stdnet.Net }

func (n roomyNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err == nil {
		if uc, ok := c.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(2 << 20)
		}
	}
	return c, err
}
