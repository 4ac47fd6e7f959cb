package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// encoderPublish is an encoder (OBS, say) publishing with the stream key: a
// WHIP offer is enough for the server to take it as the show's publisher.
func encoderPublish(t *testing.T, s *server, key string) int {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "obs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	req, _ := http.NewRequest("POST", s.base+"/whip/"+demoShow, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusCreated {
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode
}

// TestStudioLeavingAndTakeOver: a studio that is live asks before the page
// is left; a second studio (another device of the same host) sees the show
// live from another device, takes it over without replacing the stream key,
// and the first one says it was taken over instead of taking it back; the
// encoder's key still publishes afterwards.
func TestStudioLeavingAndTakeOver(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	hostTk := token(t, s, demo.HostEmail)
	var keyOut struct {
		Key string `json:"stream_key"`
	}
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/stream-key", hostTk, nil, &keyOut); code != http.StatusCreated || keyOut.Key == "" {
		t.Fatalf("stream key: %d", code)
	}
	state := func(u *user) string { return eval[string](u, `document.querySelector("#live-state").dataset.state`) }

	// 1. The first studio goes live from the (fake) camera.
	first := b.newUser(t, s, "studio 1")
	first.open("/studio/" + demoShow)
	first.do("open the log-in dialog", chromedp.Click(chromedp.ID("gate-login")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	first.fillLogin(demo.HostEmail)
	first.waitFor("the studio", `!document.querySelector("#studio").hidden`, 10*time.Second)
	first.do("go live", chromedp.Click(chromedp.ID("go-live")))
	first.waitFor("the broadcast", `document.querySelector("#live-state").dataset.state === "live"`, 20*time.Second)

	// 2. Reloading asks first (the beforeunload dialog); staying keeps the broadcast.
	_ = eval[bool](first, `(window.stayedHere = true, true)`)
	ctx, cancel := context.WithTimeout(first.ctx, 20*time.Second)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() { _, _ = chromedp.Call(ctx, page.Reload, page.ReloadParams{}) }()
	var dialog page.DialogType
	for ev, err := range dialogs {
		if err != nil {
			cancel()
			t.Fatalf("studio 1: no dialog when reloading while live: %v", err)
		}
		dialog = ev.Type
		if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}); err != nil {
			cancel()
			t.Fatal(err)
		}
		break
	}
	cancel()
	if dialog != page.DialogTypeBeforeunload {
		t.Fatalf("studio 1: dialog %q on reload, want beforeunload", dialog)
	}
	if !eval[bool](first, `window.stayedHere === true`) || state(first) != "live" {
		t.Fatalf("studio 1: after staying on the page: state %q", state(first))
	}

	// 3. The host's second device sees the show live from elsewhere.
	second := b.newUser(t, s, "studio 2")
	second.open("/studio/" + demoShow)
	second.login(demo.HostEmail)
	second.waitFor("live from another device", `document.querySelector("#live-state").dataset.state === "elsewhere" && !document.querySelector("#take-over").hidden && document.querySelector("#go-live").hidden`, 15*time.Second)
	if text := eval[string](second, `document.querySelector("#live-state").textContent`); !strings.Contains(text, "another device") || strings.Contains(text, "OBS") {
		t.Errorf("studio 2 says %q: want \"another device\", and no guess of OBS", text)
	}
	second.screenshots("studio-elsewhere")
	second.checkA11y("studio (live from another device)")

	// 4. It takes over: the show stays live, the first studio says it was
	// taken over and does not take the show back.
	second.do("take over", chromedp.Click(chromedp.ID("take-over")))
	second.waitFor("the broadcast on the second device", `document.querySelector("#live-state").dataset.state === "live"`, 20*time.Second)
	first.waitFor("the first studio taken over", `document.querySelector("#live-state").dataset.state === "taken" && !document.querySelector("#take-over").hidden`, 15*time.Second)
	first.screenshots("studio-taken-over")
	time.Sleep(6 * time.Second) // long enough for a reconnect loop to try
	if st1, st2 := state(first), state(second); st1 != "taken" || st2 != "live" {
		t.Fatalf("after the take-over: studio 1 %q, studio 2 %q; want taken, live", st1, st2)
	}
	var sh struct {
		Show struct {
			State string `json:"state"`
		} `json:"show"`
	}
	apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &sh)
	if sh.Show.State != "live" {
		t.Fatalf("the show is %q after the take-over, want live", sh.Show.State)
	}

	// 5. The key was not replaced: the encoder takes the show back with it,
	// and the second studio says so.
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/takeover", hostTk, nil, nil); code != http.StatusOK {
		t.Fatalf("take-over for the encoder: %d", code)
	}
	if code := encoderPublish(t, s, keyOut.Key); code != http.StatusCreated {
		t.Fatalf("the encoder's key after the studio's take-over: WHIP %d, want 201", code)
	}
	second.waitFor("the second studio taken over", `document.querySelector("#live-state").dataset.state === "taken"`, 15*time.Second)
}
