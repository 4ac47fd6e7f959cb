package stream

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Presence in the cluster: a node publishing a show claims it as its
// origin in the Directory, and keeps that claim, its own entry and its
// edges' places in the relay trees alive with a heartbeat (relay.go pulls
// the shows of other nodes). Every entry carries a TTL, so a node that dies
// drops out of the directory on its own.

const (
	heartbeatEvery = 5 * time.Second
	directoryTTL   = 15 * time.Second
)

// presence keeps this node in the cluster's directory: its heartbeat and
// the origin claims of the shows published here. Outside a cluster (no
// directory) every method does nothing.
type presence struct {
	dir         Directory
	node        Node
	relaySecret string // authorizes the pulls of other nodes (isRelay)
	log         *slog.Logger
	// stopBeat closes when the server closes; nil outside a cluster.
	stopBeat chan struct{}
}

func (c *presence) clustered() bool { return c.dir != nil && c.node.ID != "" }

// isRelay reports whether r is an edge's pull carrying the right secret.
func (c *presence) isRelay(r *http.Request) bool {
	got := r.Header.Get(relayHeader)
	return c.relaySecret != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.relaySecret)) == 1
}

// heartbeat keeps this node and the origin claims of its shows alive in the
// directory until the server closes.
func (s *Server) heartbeat(stop <-chan struct{}) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		// A panic in one beat is logged and counted, and the next beat
		// runs: without beats the node's shows vanish from the directory.
		s.panics().Do("stream_heartbeat", s.beat)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// beat refreshes this node, the origin claims of its shows and its edges'
// places in the relay tree once.
func (s *Server) beat() {
	ctx, cancel := context.WithTimeout(context.Background(), heartbeatEvery)
	defer cancel()
	var shows []uuid.UUID
	var edges []*feed
	for _, f := range s.list() {
		if !f.edge {
			shows = append(shows, f.show)
		} else {
			edges = append(edges, f)
		}
	}
	s.announce(ctx, shows)
	for _, f := range edges {
		s.refreshRelay(ctx, f)
	}
}

// announce refreshes this node and the origin claims of the shows published here.
func (c *presence) announce(ctx context.Context, shows []uuid.UUID) {
	if err := c.dir.Heartbeat(ctx, c.node, directoryTTL); err != nil {
		c.log.Warn("stream: node heartbeat", "err", err)
	}
	for _, id := range shows {
		if err := c.dir.ClaimOrigin(ctx, id, c.node.ID, directoryTTL); err != nil {
			c.log.Warn("stream: refresh origin claim", "show", id, "err", err)
		}
	}
}

// claimOrigin records this node as the show's origin before a publisher is
// accepted: a host already publishing the show on another node gets 409.
func (c *presence) claimOrigin(ctx context.Context, show uuid.UUID) error {
	if !c.clustered() {
		return nil
	}
	err := c.dir.ClaimOrigin(ctx, show, c.node.ID, directoryTTL)
	if apperr.CodeOf(err) == apperr.Conflict {
		return apperr.Errorf(apperr.Conflict, "this show already has a live publisher on another node")
	}
	return err
}

// leaveRelay takes this node out of the show's relay tree (its children
// notice their pulls end and re-attach).
func (c *presence) leaveRelay(show uuid.UUID) {
	c.withdraw(show, "leave relay tree", Directory.LeaveRelay)
}

// releaseOrigin gives up this node's origin claim on the show.
func (c *presence) releaseOrigin(show uuid.UUID) {
	c.withdraw(show, "release origin claim", Directory.ReleaseOrigin)
}

// withdraw removes one of this node's entries for the show from the
// directory, best effort: the entry's TTL removes it anyway.
func (c *presence) withdraw(show uuid.UUID, what string, remove func(Directory, context.Context, uuid.UUID, string) error) {
	if !c.clustered() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := remove(c.dir, ctx, show, c.node.ID); err != nil {
		c.log.Warn("stream: "+what, "show", show, "err", err)
	}
}

// originID names the show's origin node, or "" when none is known.
func (c *presence) originID(show uuid.UUID) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, ok, err := c.dir.Origin(ctx, show)
	if err != nil || !ok {
		return ""
	}
	return n.ID
}

// Join puts a started server into a cluster, once its HTTP address is
// known (and before it serves requests): it starts the heartbeat that keeps
// the node and its shows' origin claims in the directory.
func (s *Server) Join(dir Directory, node Node, secret string) error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return apperr.Errorf(apperr.Unavailable, "server is shutting down")
	}
	if s.stopBeat != nil {
		return errors.New("stream: already in a cluster")
	}
	if node.RelayFanout < 1 {
		node.RelayFanout = DefaultRelayFanout
	}
	s.Directory, s.Node, s.RelaySecret = dir, node, secret
	s.presence = presence{dir: dir, node: node, relaySecret: secret, log: s.log(), stopBeat: make(chan struct{})}
	stop := s.stopBeat
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.heartbeat(stop)
	}()
	return nil
}
