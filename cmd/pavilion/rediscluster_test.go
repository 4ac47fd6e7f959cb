package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestRedisClusterFailoverMidSale runs two server processes on one
// PostgreSQL and a Redis Cluster of three masters with a replica each, named
// by --redis-url as a list of addresses. Chat crosses the nodes over sharded
// pub/sub; a sale spread over both nodes loses the master holding its offer's
// gate (SIGKILL) in the middle. Afterwards nothing is oversold, every order
// a buyer was told is paid is paid, and the sale goes on to sell exactly
// the rest once the replica has taken over. Then the master of the room's
// slot dies too, if it is another, and chat still crosses the nodes.
func TestRedisClusterFailoverMidSale(t *testing.T) {
	pg := testinfra.Postgres(t)
	rc := testinfra.StartRedisCluster(t)
	env := []string{"PAVILION_DATABASE_URL=" + pg, "PAVILION_REDIS_URL=" + rc.URL, "PAVILION_CLUSTER_SECRET=redis-cluster-test-secret"}
	var nodes []string
	for i := range 2 {
		var extra []string
		if i == 0 {
			extra = []string{"--demo"}
		}
		cmd := serveCmd(t.TempDir(), env, extra...)
		out := &testinfra.SyncBuffer{}
		cmd.Stderr = out
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("node %d's log:\n%s", i+1, out)
			}
		})
		nodes = append(nodes, startCmd(t, cmd))
	}
	creds := demoCreds(t, "--database-url", pg, "--public-url", nodes[0])
	show := creds["show_id"].(string)

	on1 := dialRoom(t, nodes[0], show, creds["viewer_token"].(string))
	on2 := dialRoom(t, nodes[1], show, creds["host_token"].(string))
	sayAndHear(t, on2, on1, "hello over a sharded channel")

	apis := []*api{newAPI(t, nodes[0]), newAPI(t, nodes[1])}
	s := newSale(t, apis[0], creds, 40, 150)
	s.apis, s.spacing = apis, 3*time.Millisecond
	done := make(chan struct{})
	go func() { s.run(); close(done) }()
	for s.answered.Load() < 10 {
		time.Sleep(5 * time.Millisecond)
	}
	gateMaster := rc.KillMasterOf("pavilion:gate:{" + s.offerID + "}:avail")
	killedAt := s.answered.Load()
	<-done
	rc.WaitHealthy(60 * time.Second)
	sold := s.check(t)
	t.Logf("master %s of the offer's gate killed after %d answers; %d sold; %d buyers told paid", gateMaster, killedAt, sold, len(s.paid))
	s.finish(t)

	// The room's shard loses its master too, unless it is the shard that
	// just did (its new master has no replica left to take over).
	roomKey := "pavilion:{room:" + show + "}"
	if rc.MasterOf(roomKey) != rc.MasterOf("pavilion:gate:{"+s.offerID+"}:avail") {
		t.Logf("master %s of the room's channel killed", rc.KillMasterOf(roomKey))
		rc.WaitHealthy(60 * time.Second)
	}
	// Each node's clients notice the new masters within seconds (a reload
	// of the slot map, a reconnect of the room's subscription); a line sent
	// before that may be refused, and the sender types it again.
	on1b := dialRoom(t, nodes[0], show, creds["viewer_token"].(string))
	on2b := dialRoom(t, nodes[1], show, creds["host_token"].(string))
	sayUntilHeard(t, on2b, on1b, "still here after the failovers", 30*time.Second)
	sayUntilHeard(t, on1b, on2b, "both ways", 30*time.Second)
}

// sayUntilHeard sends a chat line on one node, again every two seconds,
// until the other node's viewer gets it.
func sayUntilHeard(t *testing.T, from, to *websocket.Conn, text string, limit time.Duration) {
	t.Helper()
	heard := make(chan string, 64)
	go func() {
		// Reads end when the test closes the connection.
		_ = to.SetReadDeadline(time.Now().Add(limit + 5*time.Second))
		for {
			var f map[string]any
			if err := to.ReadJSON(&f); err != nil {
				close(heard)
				return
			}
			if f["type"] == "chat" {
				if s, ok := f["text"].(string); ok {
					heard <- s
				}
			}
		}
	}()
	deadline := time.After(limit)
	for try := 0; ; try++ {
		if err := from.WriteJSON(map[string]any{"type": "chat", "id": fmt.Sprintf("c-%d", try), "text": fmt.Sprintf("%s (%d)", text, try)}); err != nil {
			t.Fatal(err)
		}
		again := time.After(2 * time.Second)
	wait:
		for {
			select {
			case s, ok := <-heard:
				if !ok {
					t.Fatalf("the other node's connection ended before %q", text)
				}
				if strings.HasPrefix(s, text+" (") {
					t.Logf("%q heard after %d sends", text, try+1)
					return
				}
			case <-again:
				break wait
			case <-deadline:
				t.Fatalf("%q not heard on the other node within %v", text, limit)
			}
		}
	}
}
