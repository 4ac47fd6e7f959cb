package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFirstFrameTime measures page open → first video frame shown in the
// player, over several loads of the page while the host is live. It
// reports the figures, each load's phases and their medians, and asserts
// only that every load showed a frame and that the page's boot script set
// the session up (an order of steps, not a time):
// wall-clock time depends on the machine and its load (see README, Speed).
// PAVILION_FIRST_FRAME_LOADS sets the number of loads (default 7);
// PAVILION_FIRST_FRAME_FROM names a page to open before each load (by
// default each load follows the last, as a reload: the player before it
// is torn down as the next one starts).
func TestFirstFrameTime(t *testing.T) {
	loads := 7
	if v, err := strconv.Atoi(os.Getenv("PAVILION_FIRST_FRAME_LOADS")); err == nil && v > 0 {
		loads = v
	}
	b := startBrowser(t)
	s := startServer(t)
	host := b.newUser(t, s, "host")
	host.startShow()

	viewer := b.newUser(t, s, "viewer")
	var all []map[string]float64
	from := os.Getenv("PAVILION_FIRST_FRAME_FROM") // a page to open before each load, e.g. "/"
	for i := range loads + 1 {
		if from != "" {
			viewer.open(from)
		}
		viewer.open("/shows/" + demoShow)
		viewer.waitFor("the first frame", `window.pavilionPlayer?.firstFrame() != null`, 20*time.Second)
		p := eval[map[string]float64](viewer, phasesJS)
		t.Logf("load %d: %s; static files: %.0f from the network, %.0f from the cache", i, phaseLine(p), p["fetched"], p["cached"])
		// The way, not the time: boot.js, written into the page, began the
		// session, applied its answer and gave the video its stream.
		for _, k := range []string{"begun", "applied", "attached"} {
			if _, ok := p[k]; !ok {
				t.Errorf("load %d: no %q step: boot.js did not set the session up", i, k)
			}
		}
		if p["begun"] >= p["module"] {
			t.Errorf("load %d: the session began at %.0f ms, after connect.js (%.0f ms): not boot.js's", i, p["begun"], p["module"])
		}
		if i == 0 {
			t.Logf("load 0 has a cold cache: not counted")
			continue
		}
		all = append(all, p)
	}
	med := map[string]float64{}
	for _, k := range phaseNames {
		var v []float64
		for _, p := range all {
			if x, ok := p[k]; ok {
				v = append(v, x)
			}
		}
		if len(v) > 0 {
			slices.Sort(v)
			med[k] = v[len(v)/2]
		}
	}
	var frames []float64
	for _, p := range all {
		frames = append(frames, p["frame"])
	}
	slices.Sort(frames)
	t.Logf("medians over %d loads (warm cache), ms since navigation start: %s", len(all), phaseLine(med))
	t.Logf("page open → first frame over %d loads (warm cache): median %.0f ms, min %.0f ms, max %.0f ms",
		len(frames), frames[len(frames)/2], frames[0], frames[len(frames)-1])
}

// phaseNames are the steps from page open to the first frame, roughly in
// order (ms since navigation start): the HTML received; the page before
// unloaded (unload, when it was of this origin: a reload); the first WHEP
// session begun (by boot.js, written into the page, or else connect.js),
// its RTCPeerConnection created, its offer made and sent; the document
// parsed (interactive) and the video element given the stream (attached);
// connect.js and rtc.js received, the last script received, connect.js
// begun (module), the player's script running, DOMContentLoaded (dcl); the
// server's time on the offer (a duration, from resource timing), its
// answer received and applied, the page's own work let go (released), ICE
// and then DTLS connected, the first video frame handed to the compositor
// (presented: requestVideoFrameCallback's presentationTime) and shown
// (frame: when that callback ran, on the page's thread; the figure the
// test reports, as before).
var phaseNames = []string{"html", "unload", "begun", "created", "described", "offered", "interactive", "attached", "connectjs", "js", "module", "script", "dcl", "server", "answered", "applied", "released", "ice", "connected", "presented", "frame"}

// phasesJS reads the phases of the last page load from the player and the
// browser's navigation and resource timing.
const phasesJS = `(() => {
	const p = { ...window.pavilionPlayer.timings(), frame: window.pavilionPlayer.firstFrame() };
	const nav = performance.getEntriesByType("navigation")[0];
	p.html = nav?.responseEnd;
	p.interactive = nav?.domInteractive;
	if (nav?.unloadEventEnd > 0) p.unload = nav.unloadEventEnd; // the page before, when same-origin
	p.dcl = nav?.domContentLoadedEventStart;
	const whep = performance.getEntriesByType("resource").find((e) => e.name.includes("/whep/") && e.responseStart > 0);
	if (whep) p.server = whep.responseStart - whep.requestStart;
	const js = performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith(".js"));
	if (js.length) p.js = Math.max(...js.map((e) => e.responseEnd));
	const first = js.filter((e) => /\/(connect|rtc)\.js/.test(e.name));
	if (first.length) p.connectjs = Math.max(...first.map((e) => e.responseEnd));
	const st = performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.startsWith("/static/"));
	p.fetched = st.filter((e) => e.transferSize > 0).length;
	p.cached = st.length - p.fetched;
	for (const k of Object.keys(p)) if (typeof p[k] !== "number") delete p[k];
	return p;
})()`

func phaseLine(p map[string]float64) string {
	var b strings.Builder
	for _, k := range phaseNames {
		if v, ok := p[k]; ok {
			fmt.Fprintf(&b, "%s %.0f, ", k, v)
		}
	}
	return strings.TrimSuffix(b.String(), ", ")
}
