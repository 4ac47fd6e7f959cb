package recordtest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Publisher is a host's browser as a server sees it: a WHIP session sending
// a clip's VP8 or H.264 video and Opus audio in real time, looping.
type Publisher struct {
	pc     *webrtc.PeerConnection
	cancel context.CancelFunc
	done   chan struct{}
	// First is when the first sample went out.
	First time.Time
	// Video and Audio count the frames and packets sent.
	Video, Audio atomic.Int64
}

// Publish connects to base's WHIP endpoint for show with the stream key and
// starts sending clip; it returns once the connection is up.
func Publish(t testing.TB, base, show, key string, clip *Clip) *Publisher {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: clip.Mime}, "video", "host")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "host")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{video, audio} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	connected := make(chan struct{})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	req, _ := http.NewRequest("POST", base+"/whip/"+show, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", res.StatusCode, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher did not connect")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{pc: pc, cancel: cancel, done: make(chan struct{}), First: time.Now()}
	t.Cleanup(p.Leave)
	go func() {
		defer close(p.done)
		start := time.Now()
		var vi, ai int
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// Samples go out when their media time comes, as a camera's would.
			for el := time.Since(start); time.Duration(ai)*PacketDur <= el; ai++ {
				if audio.WriteSample(media.Sample{Data: clip.Audio[ai%len(clip.Audio)], Duration: PacketDur}) == nil {
					p.Audio.Add(1)
				}
			}
			for el := time.Since(start); time.Duration(vi)*FrameDur <= el; vi++ {
				if video.WriteSample(media.Sample{Data: clip.Video[vi%len(clip.Video)], Duration: FrameDur}) == nil {
					p.Video.Add(1)
				}
			}
		}
	}()
	return p
}

// Leave stops sending and hangs up as a closed tab would (no DELETE).
func (p *Publisher) Leave() {
	p.cancel()
	<-p.done
	_ = p.pc.Close()
}
