package stream

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// What one WHEP viewer costs the server, measured on the server's side
// only: the viewers are pion clients in a second process (this test binary
// run again, TestViewerCostClients), so their own heap, goroutines and RSS
// do not blur the figures.
//
// Environment:
//   - PAVILION_COST_VIEWERS: how many viewers (default 40).
//   - PAVILION_COST_PROFILE: a directory to write the server's heap and
//     goroutine profiles to once the viewers are in (for go tool pprof).
//   - PAVILION_COST_WIDE=1: the server's media port on every interface (as
//     in production) and viewers offering each IPv4 address of this
//     machine, loopback included (as pavload whep's lite viewers do),
//     instead of loopback on both sides: a viewer then has the candidates
//     a bench viewer has.
//
// The figures are logged; only generous behavioural bounds are asserted
// (never a time: the machine is shared).

const (
	costClientEnv = "PAVILION_COST_CLIENT" // the WHEP URL, in the client process
	costCountEnv  = "PAVILION_COST_N"
	costWideEnv   = "PAVILION_COST_WIDE"
	costReady     = "COST-READY "
)

// costReport is what the client process reports once every viewer has
// its first keyframe.
type costReport struct {
	Connected int       `json:"connected"`
	Failed    []string  `json:"failed,omitempty"`
	Keyframe  []float64 `json:"keyframe_ms"` // POST sent → first keyframe packet
	Connect   []float64 `json:"connect_ms"`  // POST sent → PeerConnection connected
	Profiles  []string  `json:"srtp,omitempty"`
}

// serverFigures is a snapshot of this process.
type serverFigures struct {
	heap       uint64 // live heap after a GC
	stacks     uint64 // goroutine stacks (not in the heap, in the RSS)
	mallocs    uint64
	goroutines int
	rss        uint64
}

func measure(gc bool) serverFigures {
	if gc {
		runtime.GC()
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return serverFigures{heap: ms.HeapAlloc, stacks: ms.StackInuse, mallocs: ms.Mallocs, goroutines: runtime.NumGoroutine(), rss: rssBytes()}
}

// rssBytes is this process's resident set (VmRSS), 0 where /proc is missing.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func TestViewerCost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process with tens of viewers")
	}
	if os.Getenv(costClientEnv) != "" {
		t.Skip("in the client process")
	}
	if raceEnabled {
		t.Skip("the race detector's memory and slowness make the figures meaningless (and joins slow enough to time out)")
	}
	n := 40
	if s := os.Getenv("PAVILION_COST_VIEWERS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("PAVILION_COST_VIEWERS=%q: want a positive number", s)
		}
	}
	profDir := os.Getenv("PAVILION_COST_PROFILE")
	if profDir != "" {
		runtime.MemProfileRate = 4096
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	wide := os.Getenv(costWideEnv) == "1"
	var opts []func(*Server)
	if wide {
		opts = append(opts, func(s *Server) { s.UDPAddr = ":0" })
	}
	e := newEnv(t, opts...)
	pub, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	// One viewer first, in this process, so that what is built once (the
	// APIs, the certificate) is not counted against the measured ones.
	warm, status, body := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	waitFor(t, "the warm-up viewer's video", 20*time.Second, func() bool { return warm.video.count() > 10 })
	_ = warm.pc.Close()
	waitFor(t, "the warm-up viewer to go", 20*time.Second, func() bool { return e.srv.viewerCount() == 0 })
	time.Sleep(time.Second) // its goroutines wind down

	// The publisher allocates steadily (in this process); its rate is
	// taken off the joins' allocations.
	idle0 := measure(true)
	idleFrom := time.Now()
	time.Sleep(time.Second)
	idle1 := measure(false)
	idleRate := float64(idle1.mallocs-idle0.mallocs) / time.Since(idleFrom).Seconds()
	before := measure(true)
	gBefore := goroutinesByFunc()

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestViewerCostClients$", "-test.v")
	cmd.Env = append(os.Environ(), costClientEnv+"="+e.http.URL+"/whep/"+e.show.String(), costCountEnv+"="+strconv.Itoa(n), costWideEnv+"="+os.Getenv(costWideEnv))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	joinFrom := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = stdin.Close() // the clients hang up and the process exits
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case <-waited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
			}
		})
	}
	defer stop()

	var rep costReport
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	found := false
	for lines.Scan() {
		line := lines.Text()
		if rest, ok := strings.CutPrefix(line, costReady); ok {
			if err := json.Unmarshal([]byte(rest), &rep); err != nil {
				t.Fatalf("client report: %v", err)
			}
			found = true
			break
		}
		t.Log("client:", line)
	}
	if !found {
		t.Fatalf("the client process ended without a report: %v", lines.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	joined := measure(false)
	joinSecs := time.Since(joinFrom).Seconds()
	if rep.Connected == 0 {
		t.Fatalf("no viewer connected; failures: %v", rep.Failed)
	}
	time.Sleep(2 * time.Second) // media flows; handshakes' leftovers are done
	after := measure(true)
	// On a loaded machine a few of hundreds of joins may time out on the
	// client's side; the figures are still per viewer the server holds,
	// and the failures fail the test once they are logged.
	if rep.Connected != n {
		t.Errorf("%d of %d viewers connected; failures: %v", rep.Connected, n, rep.Failed)
	}
	held := e.srv.viewerCount()
	if held != rep.Connected {
		t.Errorf("the server has %d viewers, %d connected", held, rep.Connected)
	}
	if held == 0 {
		t.FailNow()
	}
	n = held

	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	heapKB := per(before.heap, after.heap) / 1024
	stackKB := per(before.stacks, after.stacks) / 1024
	rssKB := per(before.rss, after.rss) / 1024
	gor := float64(after.goroutines-before.goroutines) / float64(n)
	allocs := (float64(joined.mallocs-before.mallocs) - idleRate*joinSecs) / float64(n)
	t.Logf("viewers %d (load %s, wide %v): heap/viewer %.0f KB, stacks/viewer %.0f KB, goroutines/viewer %.1f, allocs/join %.0f (publisher's %.0f/s taken off), RSS/viewer %.0f KB",
		n, loadAvg(), wide, heapKB, stackKB, gor, allocs, idleRate, rssKB)
	t.Logf("goroutines a viewer, by what started them:\n%s", goroutineDiff(gBefore, goroutinesByFunc(), n))
	t.Logf("POST → first keyframe: p50 %.1f ms, p95 %.1f ms, max %.1f ms; POST → connected: p50 %.1f ms, p95 %.1f ms; SRTP %v",
		pct(rep.Keyframe, 50), pct(rep.Keyframe, 95), pct(rep.Keyframe, 100), pct(rep.Connect, 50), pct(rep.Connect, 95), rep.Profiles)

	if profDir != "" {
		for _, name := range []string{"heap", "goroutine"} {
			f, err := os.Create(filepath.Join(profDir, "viewer-cost-"+name+".pprof"))
			if err != nil {
				t.Fatal(err)
			}
			if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		t.Logf("profiles in %s", profDir)
	}

	// Behavioural bounds only, generous: a regression that brings back
	// per-viewer interceptors or candidates trips them, machine load does
	// not. A viewer has 15 goroutines with one candidate and 16 with two
	// (WIDE): 13 of pion's (two of them a candidate's read loop and the
	// muxed connection's watcher), the writer and the RTCP reader.
	if gor > 17 {
		t.Errorf("%.1f goroutines a viewer, want at most 17", gor)
	}
	if heapKB > 1024 {
		t.Errorf("%.0f KB of heap a viewer, want at most 1 MB", heapKB)
	}
	stop()
	pub.close()
}

// goroutinesByFunc counts this process's goroutines by the outermost
// function of pion's or ours on their stacks (what started them).
func goroutinesByFunc() map[string]int {
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		return nil
	}
	out := map[string]int{}
	for block := range strings.SplitSeq(b.String(), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if strings.HasPrefix(lines[0], "goroutine profile:") {
			lines = lines[1:] // the first block starts with the total
		}
		if len(lines) == 0 {
			continue
		}
		head := strings.Fields(lines[0])
		if len(head) < 2 || head[1] != "@" {
			continue
		}
		count, err := strconv.Atoi(head[0])
		if err != nil {
			continue
		}
		where := "other"
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) >= 3 && f[0] == "#" && (strings.Contains(f[2], "github.com/pion/") || strings.Contains(f[2], "/stream.")) {
				where = f[2]
				if i := strings.LastIndex(where, "+0x"); i > 0 {
					where = where[:i]
				}
			}
		}
		out[where] += count
	}
	return out
}

// goroutineDiff lists the rise in goroutines from before to after by
// what started them, per viewer, largest first.
func goroutineDiff(before, after map[string]int, n int) string {
	type row struct {
		where string
		per   float64
	}
	var rows []row
	for w, c := range after {
		if d := c - before[w]; d > 0 {
			rows = append(rows, row{w, float64(d) / float64(n)})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.per != b.per {
			if a.per > b.per {
				return -1
			}
			return 1
		}
		return strings.Compare(a.where, b.where)
	})
	var b strings.Builder
	for _, r := range rows {
		if r.per >= 0.05 {
			fmt.Fprintf(&b, "  %5.2f  %s\n", r.per, r.where)
		}
	}
	return b.String()
}

// loadAvg is the 1-minute load average, for the log next to the figures.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// pct is the p-th percentile (nearest rank) of xs, 0 when empty.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// TestViewerCostClients is the client process of TestViewerCost: it joins
// the viewers, a few at a time, reports once each has a keyframe, and
// hangs up when its standard input closes.
func TestViewerCostClients(t *testing.T) {
	url := os.Getenv(costClientEnv)
	if url == "" {
		t.Skip("run by TestViewerCost in a process of its own")
	}
	n, err := strconv.Atoi(os.Getenv(costCountEnv))
	if err != nil {
		t.Fatal(err)
	}
	api := clientAPI()
	if os.Getenv(costWideEnv) == "1" {
		var se webrtc.SettingEngine
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		api = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	}
	var (
		mu  sync.Mutex
		rep costReport
		pcs []*webrtc.PeerConnection
		wg  sync.WaitGroup
	)
	srtp := map[string]bool{}
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pc, kf, conn, err := costJoin(api, url)
			mu.Lock()
			defer mu.Unlock()
			if pc != nil {
				pcs = append(pcs, pc)
			}
			if err != nil {
				rep.Failed = append(rep.Failed, fmt.Sprintf("viewer %d: %v", i, err))
				return
			}
			rep.Connected++
			rep.Keyframe = append(rep.Keyframe, kf.Seconds()*1000)
			rep.Connect = append(rep.Connect, conn.Seconds()*1000)
			if p := srtpProfile(pc); p != "" {
				srtp[p] = true
			}
		}()
	}
	wg.Wait()
	for p := range srtp {
		rep.Profiles = append(rep.Profiles, p)
	}
	b, _ := json.Marshal(rep)
	fmt.Println(costReady + string(b))
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, pc := range pcs {
		_ = pc.Close()
	}
}

// costJoin is one viewer: the times from sending its POST to its first
// video keyframe packet and to its PeerConnection being connected.
func costJoin(api *webrtc.API, url string) (*webrtc.PeerConnection, time.Duration, time.Duration, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, 0, 0, err
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return pc, 0, 0, err
		}
	}
	keyframe, connected := make(chan time.Time, 1), make(chan time.Time, 1)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			select {
			case connected <- time.Now():
			default:
			}
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		video := tr.Kind() == webrtc.RTPCodecTypeVideo
		buf := make([]byte, 1500)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			if !video || n < 12 {
				continue
			}
			var p webrtcPacket
			if p.parse(buf[:n]) {
				if _, key, _, _ := vp8Frame(p.payload); key {
					select {
					case keyframe <- time.Now():
					default:
					}
				}
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return pc, 0, 0, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return pc, 0, 0, err
	}
	<-gathered
	start := time.Now()
	resp, err := http.Post(url, "application/sdp", strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return pc, 0, 0, err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return pc, 0, 0, fmt.Errorf("WHEP %d: %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return pc, 0, 0, err
	}
	timeout := time.After(60 * time.Second)
	var kf, conn time.Time
	for kf.IsZero() || conn.IsZero() {
		select {
		case kf = <-keyframe:
		case conn = <-connected:
		case <-timeout:
			return pc, 0, 0, fmt.Errorf("no keyframe (or no connection) within 60 s")
		}
	}
	return pc, kf.Sub(start), conn.Sub(start), nil
}

// webrtcPacket is the payload of an RTP packet, found without allocating.
type webrtcPacket struct{ payload []byte }

func (p *webrtcPacket) parse(b []byte) bool {
	if len(b) < 12 || b[0]>>6 != 2 {
		return false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension
		if len(b) < off+4 {
			return false
		}
		off += 4 + 4*(int(b[off+2])<<8|int(b[off+3]))
	}
	if off > len(b) {
		return false
	}
	p.payload = b[off:]
	return true
}

// srtpProfile is the SRTP profile pc's DTLS agreed, "" if unknown.
func srtpProfile(pc *webrtc.PeerConnection) string {
	for _, st := range pc.GetStats() {
		if ts, ok := st.(webrtc.TransportStats); ok && ts.SRTPCipher != "" {
			return ts.SRTPCipher
		}
	}
	return ""
}

// viewerCount is how many viewers the server's feeds hold.
func (s *Server) viewerCount() int {
	n := 0
	for _, f := range s.list() {
		f.mu.Lock()
		n += len(f.viewers)
		f.mu.Unlock()
	}
	return n
}
