package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// A socket is bound to the credential it was opened with: it lasts as long
// as that credential vouches for the same account, on every node.
//
//   - The account service announces each end of a credential (log-out,
//     revocation, password reset) and each change of a user's roles
//     (account.Notifier, implemented here by CredentialsChanged). The hub
//     closes its own matching sockets and publishes the change on the bus's
//     "credentials" channel, where every node's hub does the same.
//   - A sweep on each node, every sweepEvery, closes sockets whose
//     credential expired (the expiry is kept on the socket) and asks the
//     account service in one batch which of the node's distinct credentials
//     still vouch, and for whom. It catches what no announcement carried:
//     a lost bus message, and changes made by another process (`pavilion
//     user reset-password` and `roles` run beside the server).
//
// A socket whose credential ended closes with CloseSignedOut; one whose
// account's roles changed closes with CloseAccountChanged, and reconnecting
// opens a socket with the new roles.

// Close codes for sockets whose credential no longer vouches (PROTOCOL.md).
const (
	// CloseSignedOut: the credential the socket was opened with ended (signed
	// out, revoked, password reset, expired). Sign in again.
	CloseSignedOut = 4001
	// CloseAccountChanged: the account's roles or brands changed. Reconnect.
	CloseAccountChanged = 4002
)

const (
	signedOutText      = "credentials ended; sign in again"
	accountChangedText = "your account changed; reconnect"
)

// credentialsChannel carries account changes between nodes.
const credentialsChannel = "credentials"

// sweepEvery is how often a node checks its sockets' credentials. With the
// check's own time it bounds how long a socket outlives its credential when
// no announcement reached the node.
const sweepEvery = 2 * time.Second

// Credentials is what the hub needs of the account service (account.Service).
type Credentials interface {
	// CredentialUsers returns, for each of ids that still vouches, its user
	// as stored now.
	CredentialUsers(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*account.User, error)
	// Forget drops this node's cached credentials that c makes stale.
	Forget(c account.Change)
}

// binding is the credential a socket was opened with; the zero binding
// (anonymous, or a caller no credential stands behind) never ends.
type binding struct {
	id      uuid.UUID
	expires time.Time
}

// caller resolves the request's account and the credential that vouched.
func (h *Hub) caller(r *http.Request) (*account.User, binding) {
	if h.Caller == nil {
		return nil, binding{}
	}
	p := h.Caller(r)
	if p == nil || p.User == nil {
		return nil, binding{}
	}
	return p.User, binding{id: p.CredentialID, expires: p.ExpiresAt}
}

var _ account.Notifier = (*Hub)(nil)

// credentialWatch ends this node's sockets whose credential no longer
// vouches: on announcements (this node's, and other nodes' through the
// bus) and on its sweep.
type credentialWatch struct {
	bus         Bus
	credentials Credentials // nil: only announcements and expiry end sockets
	rooms       *registry
	guard       *crashguard.Guard
	log         *slog.Logger
}

// CredentialsChanged implements account.Notifier: this node's sockets
// opened with the credentials c names close now, and every other node's
// when the bus brings c there.
func (h *Hub) CredentialsChanged(ctx context.Context, c account.Change) {
	h.init()
	h.creds.changed(ctx, c)
}

// changed closes this node's sockets that c ends and announces c to the
// other nodes.
func (w *credentialWatch) changed(ctx context.Context, c account.Change) {
	w.apply(c)
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.bus.Publish(ctx, credentialsChannel, b); err != nil {
		// The other nodes' sweeps find it within sweepEvery.
		w.log.Warn("announcing a credential change to other nodes", "kind", c.Kind, "err", err)
	}
}

// apply closes this node's sockets that c ends.
func (w *credentialWatch) apply(c account.Change) {
	code, text := CloseSignedOut, signedOutText
	if c.Kind == account.UserChanged {
		code, text = CloseAccountChanged, accountChangedText
	}
	for _, r := range w.rooms.snapshot() {
		r.mu.Lock()
		for cn := range r.conns {
			if cn.user == nil || cn.user.ID != c.UserID || cn.cred.id == uuid.Nil {
				continue
			}
			if c.Kind != account.CredentialEnded || cn.cred.id == c.CredentialID {
				cn.stop(code, text)
			}
		}
		r.mu.Unlock()
	}
}

// run applies the changes other nodes announce and sweeps this node's
// sockets until ctx ends. Hub.Run starts it.
func (w *credentialWatch) run(ctx context.Context) {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	var sub Subscription
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	for {
		if sub == nil {
			var err error
			if sub, err = w.bus.Subscribe(ctx, credentialsChannel); err != nil {
				sub = nil // tried again at the next tick; the sweep covers the gap
				if ctx.Err() == nil {
					w.log.Warn("hearing credential changes from other nodes", "err", err)
				}
			}
		}
		var msgs <-chan []byte // nil without a subscription: never ready
		if sub != nil {
			msgs = sub.C()
		}
		select {
		case <-ctx.Done():
			return
		case b, ok := <-msgs:
			if !ok {
				sub = nil
				continue
			}
			var c account.Change
			if err := json.Unmarshal(b, &c); err != nil || c.UserID == uuid.Nil {
				continue
			}
			// A panic on one change is logged and counted; the watcher
			// goes on, or no socket on the node would end with its
			// credential again.
			w.guard.Do("chat_credentials", func() { w.heard(ctx, c) })
		case <-tick.C:
			w.guard.Do("chat_credentials", func() { w.sweep(ctx) })
		}
	}
}

// heard applies a change the bus brought: another node's, or this node's
// own coming back. The sockets of c's user are checked against the store
// rather than closed blindly: the announcement may arrive after the user
// has reconnected with the new roles (the echo of this node's own change
// always does, once changed has closed the old sockets), and that socket
// must stay. If the store cannot say, the sockets close: a removed host
// must not keep power over a blip.
func (w *credentialWatch) heard(ctx context.Context, c account.Change) {
	if w.credentials == nil {
		w.apply(c)
		return
	}
	w.credentials.Forget(c)
	if err := w.check(ctx, c.UserID); err != nil {
		w.apply(c)
	}
}

// sweep closes the sockets whose credential expired, or no longer vouches,
// or vouches for an account whose roles changed since the socket opened.
func (w *credentialWatch) sweep(ctx context.Context) {
	if err := w.check(ctx, uuid.Nil); err != nil && ctx.Err() == nil {
		// The store is unreachable: keep the sockets (closing every signed-in
		// viewer over a blip would be worse) and ask again next time.
		w.log.Warn("checking the live room's credentials", "err", err)
	}
}

// check closes the sockets of user (every user: uuid.Nil) whose credential
// expired, no longer vouches, or vouches for an account whose roles changed
// since the socket opened. An error means the store could not say; those
// sockets are left as they are.
func (w *credentialWatch) check(ctx context.Context, user uuid.UUID) error {
	now := time.Now()
	var bound []*conn
	ids := map[uuid.UUID]struct{}{}
	for _, r := range w.rooms.snapshot() {
		r.mu.Lock()
		for c := range r.conns {
			if c.cred.id == uuid.Nil || (user != uuid.Nil && (c.user == nil || c.user.ID != user)) {
				continue
			}
			if !now.Before(c.cred.expires) {
				c.stop(CloseSignedOut, signedOutText)
				continue
			}
			bound = append(bound, c)
			ids[c.cred.id] = struct{}{}
		}
		r.mu.Unlock()
	}
	if w.credentials == nil || len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, sweepEvery)
	defer cancel()
	users, err := w.credentials.CredentialUsers(ctx, slices.Collect(maps.Keys(ids)))
	if err != nil {
		return err
	}
	for _, c := range bound {
		switch u, ok := users[c.cred.id]; {
		case !ok:
			c.stop(CloseSignedOut, signedOutText)
		case !sameAccess(c.user, u):
			c.stop(CloseAccountChanged, accountChangedText)
		}
	}
	return nil
}

// sameAccess reports whether a and b are the same account with the same
// roles and brands: what every permission of the room is decided by.
func sameAccess(a, b *account.User) bool {
	if a == nil || b == nil || a.ID != b.ID {
		return false
	}
	return sameSet(a.Roles, b.Roles) && sameSet(a.BrandIDs, b.BrandIDs)
}

func sameSet[T comparable](a, b []T) bool {
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			return false
		}
	}
	return true
}
