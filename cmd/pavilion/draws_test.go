package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDrawAcrossNodes: a draw opened on node 1 takes entries on nodes 1 and
// 2; node 1 is killed mid-window; node 2 (and a node started after) close
// it; every winner holds one unit; `pavilion verify-draw` agrees with the
// server from the URL, and refuses a tampered copy.
func TestDrawAcrossNodes(t *testing.T) {
	st := sharedStores(t, "PAVILION_CLUSTER_SECRET=draw-test-secret")
	env, pg := st.env, st.pg
	// Winners' holds must outlive the checks below.
	first := serveCmd(t.TempDir(), env, "--demo", "--hold", "10m")
	a1 := newAPI(t, startCmd(t, first))
	a2 := newAPI(t, startCmd(t, serveCmd(t.TempDir(), env, "--hold", "10m")))
	creds := demoCreds(t, "--database-url", pg, "--public-url", a1.base)
	const units, entrants = 4, 30
	s := newSale(t, a1, creds, units, entrants)
	show := "/api/shows/" + creds["show_id"].(string)

	opened := a1.must(201, "POST", show+"/draws", creds["host_token"].(string), map[string]any{"offer_id": s.offerID, "seconds": 6})
	draw := opened["draw"].(map[string]any)
	path := show + "/draws/" + draw["id"].(string)
	if draw["state"] != "open" || len(draw["commitment"].(string)) != 64 || draw["seed"] != nil {
		t.Fatalf("opened: %v", draw)
	}
	// Buying first-come is closed while the draw runs.
	if code, out := a2.call("POST", "/api/reservations", s.buyers[0], "", map[string]any{"offer_id": s.offerID, "quantity": 1}); code != 409 {
		t.Fatalf("a tap during the draw: %d %v", code, out)
	}

	// Everyone enters twice, half on each node, at once.
	entries := make([]string, entrants)
	var wg sync.WaitGroup
	for i, tok := range s.buyers {
		for k, a := range []*api{a1, a2} {
			wg.Go(func() {
				code, out := a.call("POST", path+"/entry", tok, "", nil)
				if code != 200 {
					t.Errorf("entry %d on node %d: %d %v", i, k+1, code, out)
					return
				}
				id := out["entry"].(map[string]any)["id"].(string)
				if k == 0 {
					entries[i] = id
				} else if got := a1.must(200, "GET", path+"/entry", tok, nil)["entry"].(map[string]any)["id"]; got != id {
					t.Errorf("account %d has entries %v and %s", i, got, id)
				}
			})
		}
	}
	wg.Wait()

	// The node that opened the draw dies in its window; another starts.
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	a3 := newAPI(t, startCmd(t, serveCmd(t.TempDir(), env, "--hold", "10m")))

	var rec map[string]any
	waitUntil(t, "the draw drawn by the surviving nodes", 30*time.Second, func() bool {
		rec = a3.must(200, "GET", path, "", nil)["draw"].(map[string]any)
		return rec["state"] == "drawn"
	})
	winners := rec["winners"].([]any)
	if len(winners) != units || len(rec["entries"].([]any)) != entrants || rec["unheld"] != nil {
		t.Fatalf("drawn: %d winners of %d entries (unheld %v)", len(winners), len(rec["entries"].([]any)), rec["unheld"])
	}
	won := 0
	for i, tok := range s.buyers {
		e := a2.must(200, "GET", path+"/entry", tok, nil)["entry"].(map[string]any)
		if e["id"] != entries[i] {
			t.Fatalf("entry %d changed: %v, was %s", i, e["id"], entries[i])
		}
		if e["rank"].(float64) == 0 {
			if e["reservation_id"] != nil {
				t.Fatalf("a loser holds %v", e["reservation_id"])
			}
			continue
		}
		won++
		r := a2.must(200, "GET", "/api/reservations/"+e["reservation_id"].(string), tok, nil)["reservation"].(map[string]any)
		if r["offer_id"] != s.offerID || r["quantity"].(float64) != 1 {
			t.Fatalf("a winner's hold: %v", r)
		}
	}
	if won != units {
		t.Fatalf("%d accounts won, want %d", won, units)
	}
	s.api = a2
	if held, sold, _ := s.counts(); held+sold != units {
		t.Fatalf("the offer holds %d and sold %d after the draw, want %d in all", held, sold, units)
	}

	out, err := runCLI(t, "", "verify-draw", "--entry", entries[0], a2.base+path)
	if err != nil || !strings.Contains(out, "verified") || !strings.Contains(out, entries[0]) {
		t.Fatalf("verify-draw on the URL: %v\n%s", err, out)
	}
	// A copy with two winners swapped does not verify.
	w := rec["winners"].([]any)
	w[0], w[1] = w[1], w[0]
	b, _ := json.Marshal(map[string]any{"draw": rec})
	file := filepath.Join(t.TempDir(), "draw.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "", "verify-draw", file); err == nil || !strings.Contains(err.Error(), "NOT verify") {
		t.Fatalf("verify-draw on a tampered copy: %v\n%s", err, out)
	}
}
