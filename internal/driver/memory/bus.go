// Package memory holds in-process implementations of domain interfaces for
// the embedded single-node mode, where there is no other node to talk to and
// nothing needs to survive outside the process.
package memory

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pavilion-live/pavilion/chat"
)

// subscriptionBuffer is how many messages a subscriber may fall behind before
// messages are dropped for it. Room sequence numbers and resume make the gap
// visible to clients, so dropping is safe; blocking the publisher is not.
const subscriptionBuffer = 1024

// ErrBusClosed is returned by every method but Close after Close.
var ErrBusClosed = errors.New("memory: bus closed")

// Bus is an in-process chat.Bus. Messages reach subscribers in the same
// process only.
//
// A message is copied once per Publish and the copy is shared by all
// subscribers, so receivers must treat it as read-only.
type Bus struct {
	mu     sync.RWMutex
	subs   map[string]map[*subscription]struct{}
	closed bool

	// seqMu guards seqs, not the counters in it: each has its own lock.
	seqMu sync.Mutex
	seqs  map[string]*sequence

	presenceMu sync.Mutex
	presence   map[string]map[string]presenceRecord // channel → node → record

	dropped atomic.Uint64
}

// sequence is one channel's numbering. It never restarts while the bus
// lives, so its epoch never changes either.
type sequence struct {
	epoch string

	// mu is held across the publish, so that frames reach every subscriber
	// in the order their numbers were taken.
	mu   sync.Mutex
	last uint64
	// recent holds the last chat.BusHistory framed messages, in order
	// until it is full, then as a ring whose oldest entry is recent[next].
	// It is dropped a day after the last Append (as the Redis bus's history
	// expires), so a long-lived node does not keep every past show's last
	// events.
	recent   [][]byte
	next     int
	appended time.Time
}

// historyTTL is how long a channel's history outlives its last message.
const historyTTL = 24 * time.Hour

type presenceRecord struct {
	n  int
	at time.Time
}

var _ chat.Bus = (*Bus)(nil)

// NewBus returns an empty bus ready for use.
func NewBus() *Bus {
	return &Bus{
		subs:     make(map[string]map[*subscription]struct{}),
		seqs:     make(map[string]*sequence),
		presence: make(map[string]map[string]presenceRecord),
	}
}

// Dropped reports how many messages were discarded, summed over all
// subscribers, because a subscriber's buffer was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// Publish delivers msg to every current subscriber of channel without waiting
// for any of them: a full subscriber loses the message instead.
func (b *Bus) Publish(ctx context.Context, channel string, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: publish %q: %w", channel, err)
	}
	// The caller may reuse its buffer once Publish returns.
	if err := b.deliver(channel, append([]byte(nil), msg...)); err != nil {
		return fmt.Errorf("memory: publish %q: %w", channel, err)
	}
	return nil
}

// deliver hands msg, which the bus now owns, to every current subscriber of
// channel without waiting for any of them.
func (b *Bus) deliver(channel string, msg []byte) error {
	// Sending under the read lock is what makes it safe against a concurrent
	// Close: a subscription's channel is only closed under the write lock.
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBusClosed
	}
	for s := range b.subs[channel] {
		select {
		case s.c <- msg:
		default:
			b.dropped.Add(1)
		}
	}
	return nil
}

// Append numbers msg with channel's next sequence number and publishes it
// framed as chat.Frame(seq, msg). A failed Append uses no number.
func (b *Bus) Append(ctx context.Context, channel string, msg []byte) (uint64, string, error) {
	if err := ctx.Err(); err != nil {
		return 0, "", fmt.Errorf("memory: append %q: %w", channel, err)
	}
	s := b.sequence(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.last + 1
	// Frame copies msg, so the caller may reuse its buffer.
	framed := chat.Frame(seq, msg)
	if err := b.deliver(channel, framed); err != nil {
		return 0, "", fmt.Errorf("memory: append %q: %w", channel, err)
	}
	s.last = seq
	s.appended = time.Now()
	if len(s.recent) < chat.BusHistory {
		s.recent = append(s.recent, framed)
	} else {
		s.recent[s.next] = framed
		s.next = (s.next + 1) % chat.BusHistory
	}
	return seq, s.epoch, nil
}

// Recent returns channel's epoch and its last appended messages, at most
// limit, oldest first. The numbering never restarts, so they have no hole.
func (b *Bus) Recent(ctx context.Context, channel string, limit int) (string, [][]byte, error) {
	if err := b.usable(ctx); err != nil {
		return "", nil, fmt.Errorf("memory: recent %q: %w", channel, err)
	}
	s := b.sequence(channel)
	s.mu.Lock()
	defer s.mu.Unlock()
	size := len(s.recent)
	n := max(min(limit, size), 0)
	out := make([][]byte, 0, n)
	for i := size - n; i < size; i++ {
		out = append(out, s.recent[(s.next+i)%size])
	}
	return s.epoch, out, nil
}

// Epoch returns a random name for channel's numbering, chosen on first use
// and kept for the life of the bus, which is also the life of the numbering.
func (b *Bus) Epoch(ctx context.Context, channel string) (string, error) {
	if err := b.usable(ctx); err != nil {
		return "", fmt.Errorf("memory: epoch %q: %w", channel, err)
	}
	return b.sequence(channel).epoch, nil
}

// sequence returns channel's numbering, creating it on first use.
func (b *Bus) sequence(channel string) *sequence {
	b.seqMu.Lock()
	defer b.seqMu.Unlock()
	s := b.seqs[channel]
	if s == nil {
		s = &sequence{epoch: rand.Text()}
		b.seqs[channel] = s
		b.forgetIdleLocked(time.Now())
	}
	return s
}

// forgetIdleLocked drops the history of channels with nothing appended for
// historyTTL; their numbering stays. It runs as channels are added, which
// is when the number of histories can grow.
func (b *Bus) forgetIdleLocked(now time.Time) {
	for _, s := range b.seqs {
		s.mu.Lock()
		if s.recent != nil && now.Sub(s.appended) > historyTTL {
			s.recent, s.next = nil, 0
		}
		s.mu.Unlock()
	}
}

// Presence records n viewers of channel on node and returns the total over
// the nodes that reported within ttl. A node reporting zero is forgotten at
// once; records older than ttl are forgotten as they are met.
func (b *Bus) Presence(ctx context.Context, channel, node string, n int, ttl time.Duration) (int, error) {
	if n < 0 || ttl <= 0 {
		return 0, fmt.Errorf("memory: presence %q: invalid count %d or ttl %v", channel, n, ttl)
	}
	if err := b.usable(ctx); err != nil {
		return 0, fmt.Errorf("memory: presence %q: %w", channel, err)
	}
	now := time.Now()

	b.presenceMu.Lock()
	defer b.presenceMu.Unlock()
	nodes := b.presence[channel]
	if nodes == nil {
		nodes = make(map[string]presenceRecord)
		b.presence[channel] = nodes
	}
	if n > 0 {
		nodes[node] = presenceRecord{n: n, at: now}
	} else {
		delete(nodes, node)
	}
	total := 0
	for name, r := range nodes {
		if now.Sub(r.at) < ttl {
			total += r.n
		} else {
			delete(nodes, name)
		}
	}
	if len(nodes) == 0 {
		delete(b.presence, channel)
	}
	return total, nil
}

// usable reports why the bus cannot serve a call now, if it cannot.
func (b *Bus) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrBusClosed
	}
	return nil
}

// Subscribe registers a subscriber on channel. It sees every message published
// after Subscribe returns until ctx is done or the subscription is closed.
func (b *Bus) Subscribe(ctx context.Context, channel string) (chat.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: subscribe %q: %w", channel, err)
	}
	s := &subscription{
		bus:     b,
		channel: channel,
		c:       make(chan []byte, subscriptionBuffer),
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("memory: subscribe %q: %w", channel, ErrBusClosed)
	}
	set := b.subs[channel]
	if set == nil {
		set = make(map[*subscription]struct{})
		b.subs[channel] = set
	}
	set[s] = struct{}{}
	// Set under the lock so Close always sees it. If ctx is already done the
	// callback runs at once in its own goroutine and waits for the lock.
	s.stop = context.AfterFunc(ctx, func() { _ = s.Close() })
	b.mu.Unlock()
	return s, nil
}

// Ping reports whether the bus still accepts messages.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.usable(ctx); err != nil {
		return fmt.Errorf("memory: ping: %w", err)
	}
	return nil
}

// Close ends every subscription; later calls but Close fail.
// It is safe to call more than once.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed = true
	var all []*subscription
	for _, set := range b.subs {
		for s := range set {
			all = append(all, s)
		}
	}
	b.mu.Unlock()

	for _, s := range all {
		_ = s.Close()
	}
	return nil
}

type subscription struct {
	bus     *Bus
	channel string
	c       chan []byte

	once sync.Once
	stop func() bool // unregisters the ctx watcher; guarded by bus.mu
}

func (s *subscription) C() <-chan []byte { return s.c }

func (s *subscription) Close() error {
	s.once.Do(func() {
		b := s.bus
		b.mu.Lock()
		stop := s.stop
		if set := b.subs[s.channel]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(b.subs, s.channel)
			}
		}
		close(s.c)
		b.mu.Unlock()
		// Without this a long-lived ctx would keep the subscription reachable.
		stop()
	})
	return nil
}
