// Package memory holds in-process implementations of domain interfaces for
// the embedded single-node mode, where there is no other node to talk to and
// nothing needs to survive outside the process.
package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pavilion-live/pavilion/chat"
)

// subscriptionBuffer is how many messages a subscriber may fall behind before
// messages are dropped for it. Room sequence numbers and resume make the gap
// visible to clients, so dropping is safe; blocking the publisher is not.
const subscriptionBuffer = 1024

// ErrBusClosed is returned by Publish and Subscribe after Close.
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

	dropped atomic.Uint64
}

var _ chat.Bus = (*Bus)(nil)

// NewBus returns an empty bus ready for use.
func NewBus() *Bus {
	return &Bus{subs: make(map[string]map[*subscription]struct{})}
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
	msg = append([]byte(nil), msg...)

	// Sending under the read lock is what makes it safe against a concurrent
	// Close: a subscription's channel is only closed under the write lock.
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return fmt.Errorf("memory: publish %q: %w", channel, ErrBusClosed)
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
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: ping: %w", err)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return fmt.Errorf("memory: ping: %w", ErrBusClosed)
	}
	return nil
}

// Close ends every subscription; later Publish and Subscribe calls fail.
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
