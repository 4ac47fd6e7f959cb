package stream

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// A viewer's answer carries the show's codecs only (the publisher's VP8
// and Opus: no RTX, no other payload type), makes the server the DTLS
// server (a=setup:passive, one round trip less), and the media is
// protected with AES-128-GCM when the client offers it.
func TestViewerAnswerIsLean(t *testing.T) {
	e := newEnv(t)
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	v, status, answer := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, answer)
	}
	var rtpmaps []string
	for line := range strings.SplitSeq(answer, "\n") {
		if _, rest, ok := strings.Cut(strings.TrimSpace(line), "a=rtpmap:"); ok {
			rtpmaps = append(rtpmaps, rest)
		}
	}
	if len(rtpmaps) != 2 || !strings.Contains(rtpmaps[0], "VP8/90000") || !strings.Contains(rtpmaps[1], "opus/48000") {
		t.Errorf("the answer's codecs are %q, want VP8 and Opus only:\n%s", rtpmaps, answer)
	}
	if !strings.Contains(answer, "a=setup:passive") || strings.Contains(answer, "a=setup:active") {
		t.Errorf("the answer does not make the server the DTLS server:\n%s", answer)
	}
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 10 })
	if got := srtpProfile(v.pc); got != "SRTP_AEAD_AES_128_GCM" {
		t.Errorf("SRTP profile %q, want SRTP_AEAD_AES_128_GCM", got)
	}
	// The next viewer's answer comes from the same API, with the same
	// certificate (one per node, not one per connection).
	_, status, again := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, again)
	}
	if fp := sdpAttr(answer, "fingerprint"); fp == "" || fp != sdpAttr(again, "fingerprint") {
		t.Errorf("two viewers got different certificates: %q and %q", fp, sdpAttr(again, "fingerprint"))
	}
}

// fakeMux lists fixed addresses.
type fakeMux struct {
	ice.UDPMux
	addrs []net.Addr
	calls int
}

func (m *fakeMux) GetListenAddresses() []net.Addr { m.calls++; return m.addrs }

// An answer's UDP candidates: loopback only for a client offering only
// loopback, none of them for a client elsewhere, all for one offering both;
// only the families the client has candidates in; and whatever there is
// when the kind asked for has none. The interface list is looked up once,
// not per answer.
func TestKindMuxAddresses(t *testing.T) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}
	lo6 := &net.UDPAddr{IP: net.IPv6loopback, Port: 5000}
	lan := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5000}
	lan6 := &net.UDPAddr{IP: net.ParseIP("fd00::2"), Port: 5000}
	all := []net.Addr{lo, lan, lo6, lan6}
	names := func(as []net.Addr) string {
		var s []string
		for _, a := range as {
			s = append(s, a.String())
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		have []net.Addr
		use  loopbackUse
		nets uint8 // the offer's networks; 0: not known
		want string
	}{
		{[]net.Addr{lo, lan, lo6}, loOnly, 0, "127.0.0.1:5000 [::1]:5000"},
		{[]net.Addr{lo, lan, lo6}, loNone, 0, "10.0.0.2:5000"},
		{[]net.Addr{lo, lan, lo6}, loAlso, 0, "127.0.0.1:5000 10.0.0.2:5000 [::1]:5000"},
		{[]net.Addr{lo}, loNone, 0, "127.0.0.1:5000"},
		{[]net.Addr{lan}, loOnly, 0, "10.0.0.2:5000"},
		// An IPv4-only client: no IPv6 candidate (it could pair with none).
		{all, loAlso, netUDP4, "127.0.0.1:5000 10.0.0.2:5000"},
		{all, loNone, netUDP4 | netTCP4 | netTCP6, "10.0.0.2:5000"},
		{all, loOnly, netUDP4, "127.0.0.1:5000"},
		{all, loNone, netUDP6, "[fd00::2]:5000"},
		{all, loNone, netUDP4 | netUDP6, "10.0.0.2:5000 [fd00::2]:5000"},
		{all, loNone, netTCP4, "10.0.0.2:5000 [fd00::2]:5000"},  // no UDP asked for: no filter
		{[]net.Addr{lo, lan}, loNone, netUDP6, "10.0.0.2:5000"}, // no IPv6 here: all there is
	} {
		mux := &fakeMux{addrs: c.have}
		km := &kindMux{UDPMux: mux, addrs: &listenAddrs{}, lo: c.use}
		if c.nets != 0 {
			km.fam = udpFamilies(c.nets)
		}
		for range 3 {
			if got := names(km.GetListenAddresses()); got != c.want {
				t.Errorf("%s for %d, networks %04b: got %q, want %q", names(c.have), c.use, c.nets, got, c.want)
			}
		}
		if mux.calls != 1 {
			t.Errorf("the mux was asked %d times for its addresses, want once", mux.calls)
		}
	}
}

// A viewer's media engine has the show's codecs, video with the feedback
// the server reads, and one entry per codec however many layers.
func TestViewerMediaEngine(t *testing.T) {
	vp8 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	if _, err := viewerMediaEngine([]webrtc.RTPCodecParameters{vp8, vp8, vp8, opus}); err != nil {
		t.Fatal(err)
	}
	if _, err := viewerMediaEngine(nil); err == nil {
		t.Error("a media engine without codecs")
	}
	if codecKey([]webrtc.RTPCodecParameters{vp8, opus}) == codecKey([]webrtc.RTPCodecParameters{opus}) {
		t.Error("two sets of codecs share a key")
	}
}

// With the media port on every interface (as in production), a viewer
// whose candidates are all IPv4 gets no IPv6 candidate in the answer:
// pion would give each a read goroutine and a buffer that nothing could
// ever reach. The viewer still gets its video.
func TestViewerAnswerMatchesOfferFamilies(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.UDPAddr = ":0" })
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	e.api = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	v, status, answer := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, answer)
	}
	udp := 0
	for line := range strings.SplitSeq(answer, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "a=candidate:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 5 || !strings.EqualFold(f[2], "udp") {
			continue
		}
		udp++
		if ip := net.ParseIP(f[4]); ip == nil || ip.To4() == nil {
			t.Errorf("an IPv4-only viewer got the UDP candidate %q", line)
		}
	}
	if udp == 0 {
		t.Errorf("no UDP candidate in the answer:\n%s", answer)
	}
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 10 })
}
