// Package redis holds the Redis implementations of domain interfaces for
// cluster mode, where several nodes share live state through one Redis.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pavilion-live/pavilion/chat"
)

const (
	// subscriptionBuffer is how many messages a subscriber may fall behind
	// before messages are dropped for it. Room sequence numbers and resume
	// make the gap visible to clients; a stalled reader would instead make
	// Redis disconnect the whole connection once its output buffer fills.
	subscriptionBuffer = 1024

	// confirmTimeout bounds the wait for Redis to confirm a SUBSCRIBE when the
	// caller's ctx has no earlier deadline.
	confirmTimeout = 10 * time.Second
)

// ErrBusClosed is returned by every method but Close after Close.
var ErrBusClosed = errors.New("redis: bus closed")

// Open connects to Redis at url and checks that it answers. The caller
// closes the client.
//
// One address (redis://[user:password@]host:port/db) means one server and a
// plain client. Several, separated by commas
// (redis://[user:password@]h1:7000,h2:7001,h3:7002), mean a Redis Cluster:
// the addresses are seeds from which the client learns the whole cluster,
// and the URL may name no database (a cluster has only database 0). Query
// options are go-redis's own, for either form.
func Open(ctx context.Context, url string) (goredis.UniversalClient, error) {
	if isClusterURL(url) {
		return openCluster(ctx, url)
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		// The URL may hold a password, so it stays out of the message.
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	client := goredis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", opts.Addr, err)
	}
	return client, nil
}

// Bus is a chat.Bus over Redis pub/sub: every node publishing to and
// subscribing on the same Redis with the same prefix shares its channels.
//
// On a Redis Cluster the bus uses sharded pub/sub (SPUBLISH/SSUBSCRIBE,
// Redis 7): a channel lives on the shard that owns its slot, and a message
// travels only within that shard (its master and replicas) instead of being
// broadcast over the whole cluster bus, so rooms spread over the shards
// like keys do. The channel's Redis name carries the bus channel as hash
// tag, <prefix>{<channel>}, the same tag as its numbering keys, so Append's
// script numbers and publishes on one slot.
type Bus struct {
	client  goredis.UniversalClient
	prefix  string
	sharded bool // a Redis Cluster: SPUBLISH and SSUBSCRIBE

	mu   sync.Mutex
	subs map[*subscription]struct{}
	// closed is written under mu, so Subscribe's check under mu cannot miss
	// a Close, and read without it on the publish path.
	closed atomic.Bool

	dropped atomic.Uint64
}

var _ chat.Bus = (*Bus)(nil)

// NewBus returns a bus on client whose Redis channel names are prefix followed
// by the bus channel name, so several deployments (or test runs) can share
// one Redis. Production uses "pavilion:". The caller keeps ownership of
// client: Close ends the subscriptions but does not close it.
func NewBus(client goredis.UniversalClient, prefix string) *Bus {
	return &Bus{
		client:  client,
		prefix:  prefix,
		sharded: IsCluster(client),
		subs:    make(map[*subscription]struct{}),
	}
}

// redisChannel is the Redis name of the bus channel.
func (b *Bus) redisChannel(channel string) string {
	if b.sharded {
		return b.prefix + "{" + channel + "}"
	}
	return b.prefix + channel
}

// Dropped reports how many messages were discarded, summed over all
// subscribers, because a subscriber's buffer was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// Publish sends msg to channel's subscribers on every node.
func (b *Bus) Publish(ctx context.Context, channel string, msg []byte) error {
	if b.closed.Load() {
		return fmt.Errorf("redis: publish %q: %w", channel, ErrBusClosed)
	}
	err := retryUnexecuted(ctx, b.client, func(ctx context.Context) error {
		if b.sharded {
			return b.client.SPublish(ctx, b.redisChannel(channel), msg).Err()
		}
		return b.client.Publish(ctx, b.redisChannel(channel), msg).Err()
	})
	if err != nil {
		return fmt.Errorf("redis: publish %q: %w", channel, err)
	}
	return nil
}

// A channel's numbering lives in two keys that share the channel as hash tag,
// so one script can touch both in a cluster: <prefix>seq:{channel} holds the
// last number given and <prefix>epoch:{channel} the name of the numbering.
// Both scripts below start a new numbering when either key is missing: after
// a Redis restart, a flush or an eviction, numbers restart at 1 under a fresh
// epoch, never under the old one. A new numbering sets seq to 0, so a
// missing seq key always means a lost one.
//
// KEYS[1] is the seq key, KEYS[2] the epoch key, ARGV[1] a fresh random
// epoch, used only if a new numbering starts.
const numberingLua = `
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('SET', KEYS[1], 0)
end
`

// The channel's history for Recent is a list, <prefix>hist:{channel}, of
// the last chat.BusHistory framed messages, written by the same script that
// numbers and publishes them, so it never misses one the subscribers got.
// A numbering that starts again (seq 1) empties it first; it expires a day
// after the channel's last message.
//
// appendLua takes the channel's next number and publishes the framed message
// (chat.Frame) with the command ARGV[6] (PUBLISH, or SPUBLISH on a Redis
// Cluster: to a channel on the keys' slot, as Redis refuses a script that
// touches another) to the channel ARGV[2]; ARGV[3] is the message, ARGV[4]
// the history's length, ARGV[5] its lifetime in milliseconds, KEYS[3] the
// history. Redis runs a script without interleaving any other command, so
// messages are published in number order. It returns the number and the
// epoch.
var appendScript = goredis.NewScript(numberingLua + `
local seq = redis.call('INCR', KEYS[1])
local framed = string.format('%d', seq) .. ' ' .. ARGV[3]
redis.call(ARGV[6], ARGV[2], framed)
if seq == 1 then
  redis.call('DEL', KEYS[3])
end
redis.call('RPUSH', KEYS[3], framed)
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return {seq, redis.call('GET', KEYS[2])}
`)

// recentScript returns the channel's epoch, its last number and the last
// ARGV[2] entries of its history, starting a numbering if there is none.
var recentScript = goredis.NewScript(numberingLua + `
return {redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1]), redis.call('LRANGE', KEYS[3], -tonumber(ARGV[2]), -1)}
`)

// historyTTL is how long a channel's history outlives its last message.
const historyTTL = 24 * time.Hour

// epochScript returns the channel's epoch.
var epochScript = goredis.NewScript(numberingLua + `
return redis.call('GET', KEYS[2])
`)

// presenceScript records ARGV[2] viewers for node ARGV[1] in the hash KEYS[1]
// (field node, value "count:unixmillis" on the Redis clock, which every node
// shares) and returns the total over the fields younger than ARGV[3]
// milliseconds, deleting the older ones. A count of zero deletes the node's
// field. The key expires after twice the ttl, so an idle channel leaves
// nothing behind.
var presenceScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. string.format('%d', now))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
  local n, at = string.match(all[i + 1], '^(%d+):(%d+)$')
  if n and tonumber(at) + ttl > now then
    total = total + tonumber(n)
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
return total
`)

// numberingKeys returns channel's seq and epoch keys.
func (b *Bus) numberingKeys(channel string) []string {
	return []string{b.prefix + "seq:{" + channel + "}", b.prefix + "epoch:{" + channel + "}"}
}

// historyKeys returns channel's seq, epoch and history keys.
func (b *Bus) historyKeys(channel string) []string {
	return append(b.numberingKeys(channel), b.prefix+"hist:{"+channel+"}")
}

// Append numbers msg with channel's next sequence number and publishes it
// framed as chat.Frame(seq, msg), in one script, so subscribers on every
// node receive appended messages in number order. If the call fails, the
// message may still have been numbered and published.
func (b *Bus) Append(ctx context.Context, channel string, msg []byte) (uint64, string, error) {
	if b.closed.Load() {
		return 0, "", fmt.Errorf("redis: append %q: %w", channel, ErrBusClosed)
	}
	publish := "PUBLISH"
	if b.sharded {
		publish = "SPUBLISH"
	}
	var res []any
	err := retryUnexecuted(ctx, b.client, func(ctx context.Context) error {
		var err error
		res, err = appendScript.Run(ctx, b.client, b.historyKeys(channel), rand.Text(), b.redisChannel(channel), msg,
			chat.BusHistory, historyTTL.Milliseconds(), publish).Slice()
		return err
	})
	if err != nil {
		return 0, "", fmt.Errorf("redis: append %q: %w", channel, err)
	}
	var (
		seq      int64
		epoch    string
		ok1, ok2 bool
	)
	if len(res) == 2 {
		seq, ok1 = res[0].(int64)
		epoch, ok2 = res[1].(string)
	}
	if !ok1 || !ok2 || seq < 1 {
		return 0, "", fmt.Errorf("redis: append %q: unexpected answer %v", channel, res)
	}
	return uint64(seq), epoch, nil
}

// Epoch returns the name of channel's numbering, starting a numbering if
// there is none.
func (b *Bus) Epoch(ctx context.Context, channel string) (string, error) {
	if b.closed.Load() {
		return "", fmt.Errorf("redis: epoch %q: %w", channel, ErrBusClosed)
	}
	var epoch string
	err := retryUnexecuted(ctx, b.client, func(ctx context.Context) error {
		var err error
		epoch, err = epochScript.Run(ctx, b.client, b.numberingKeys(channel), rand.Text()).Text()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("redis: epoch %q: %w", channel, err)
	}
	return epoch, nil
}

// Recent returns channel's epoch and up to limit of its last messages,
// oldest first: the tail of the history that runs without a hole up to the
// channel's last number (an entry left from an earlier numbering, or a
// history cut short, ends it), so a room never takes a stale or holed
// history for a whole one.
func (b *Bus) Recent(ctx context.Context, channel string, limit int) (string, [][]byte, error) {
	if b.closed.Load() {
		return "", nil, fmt.Errorf("redis: recent %q: %w", channel, ErrBusClosed)
	}
	limit = min(limit, chat.BusHistory)
	if limit < 1 {
		epoch, err := b.Epoch(ctx, channel)
		return epoch, nil, err
	}
	var res []any
	err := retryUnexecuted(ctx, b.client, func(ctx context.Context) error {
		var err error
		res, err = recentScript.Run(ctx, b.client, b.historyKeys(channel), rand.Text(), limit).Slice()
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("redis: recent %q: %w", channel, err)
	}
	var (
		epoch, last string
		entries     []any
		ok          = len(res) == 3
	)
	if ok {
		epoch, ok = res[0].(string)
	}
	if ok {
		last, ok = res[1].(string)
	}
	if ok {
		entries, ok = res[2].([]any)
	}
	want, perr := strconv.ParseUint(last, 10, 64)
	if !ok || perr != nil {
		return "", nil, fmt.Errorf("redis: recent %q: unexpected answer %v", channel, res)
	}
	// Walk back from the newest entry while the numbers count down from
	// the channel's last one.
	i := len(entries)
	for ; i > 0 && want > 0; i-- {
		s, isStr := entries[i-1].(string)
		if !isStr {
			break
		}
		if seq, _, err := chat.Unframe([]byte(s)); err != nil || seq != want {
			break
		}
		want--
	}
	msgs := make([][]byte, 0, len(entries)-i)
	for _, e := range entries[i:] {
		msgs = append(msgs, []byte(e.(string)))
	}
	return epoch, msgs, nil
}

// Presence records n viewers of channel on node and returns the total over
// the nodes whose record is younger than ttl, by the Redis server's clock.
func (b *Bus) Presence(ctx context.Context, channel, node string, n int, ttl time.Duration) (int, error) {
	if n < 0 || ttl <= 0 {
		return 0, fmt.Errorf("redis: presence %q: invalid count %d or ttl %v", channel, n, ttl)
	}
	if b.closed.Load() {
		return 0, fmt.Errorf("redis: presence %q: %w", channel, ErrBusClosed)
	}
	ms := max(ttl.Milliseconds(), 1)
	key := []string{b.prefix + "presence:{" + channel + "}"}
	var total int
	err := retryUnexecuted(ctx, b.client, func(ctx context.Context) error {
		var err error
		total, err = presenceScript.Run(ctx, b.client, key, node, n, ms).Int()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("redis: presence %q: %w", channel, err)
	}
	return total, nil
}

// Subscribe returns once Redis has confirmed the subscription, so a message
// published after it returns, from any node, is delivered. The subscription
// has its own connection, which go-redis re-establishes (and resubscribes)
// after a network error or a Redis restart; messages published while it is
// down are lost. On a Redis Cluster the connection goes to the master of the
// channel's slot; after a failover it is re-established on the promoted
// replica, and when a live node gives the slot away (a manual failover, a
// resharding) and drops the subscription, the bus subscribes again where
// the slot went.
func (b *Bus) Subscribe(ctx context.Context, channel string) (chat.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis: subscribe %q: %w", channel, err)
	}
	if b.closed.Load() {
		return nil, fmt.Errorf("redis: subscribe %q: %w", channel, ErrBusClosed)
	}

	name := b.redisChannel(channel)
	ps := b.pubSub(ctx, name)
	s := &subscription{
		bus:  b,
		name: name,
		ps:   ps,
		c:    make(chan []byte, subscriptionBuffer),
		done: make(chan struct{}),
	}
	// Closing the PubSub is all it takes to end the subscription: forward
	// then cleans up. Watching ctx from here on also interrupts the
	// confirmation wait, which go-redis bounds only by deadlines.
	s.stop = context.AfterFunc(ctx, func() { _ = s.closePubSub() })

	if err := b.confirm(ctx, ps, name); err != nil {
		s.stop()
		_ = ps.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, fmt.Errorf("redis: subscribe %q: %w", channel, err)
	}

	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		s.stop()
		_ = ps.Close()
		return nil, fmt.Errorf("redis: subscribe %q: %w", channel, ErrBusClosed)
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	// Reading starts only now, after the confirmation, so nothing was
	// consumed in between. go-redis also pings an idle connection to notice
	// a dead one and reconnect.
	go s.forward(ps)
	return s, nil
}

// pubSub sends the subscription for the Redis channel name.
func (b *Bus) pubSub(ctx context.Context, name string) *goredis.PubSub {
	if b.sharded {
		return b.client.SSubscribe(ctx, name)
	}
	return b.client.Subscribe(ctx, name)
}

// confirm waits for Redis to acknowledge the subscription to name.
func (b *Bus) confirm(ctx context.Context, ps *goredis.PubSub, name string) error {
	kind := "subscribe"
	if b.sharded {
		kind = "ssubscribe"
	}
	reply, err := ps.ReceiveTimeout(ctx, confirmTimeout)
	if err != nil {
		return err
	}
	sub, ok := reply.(*goredis.Subscription)
	if !ok || sub.Kind != kind || sub.Channel != name {
		return fmt.Errorf("unexpected reply %v to %s", reply, strings.ToUpper(kind))
	}
	return nil
}

// Ping reports whether Redis answers.
func (b *Bus) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("redis: ping: %w", ErrBusClosed)
	}
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// Close ends every subscription; later calls fail with ErrBusClosed. It does
// not close the client. It is safe to call more than once.
func (b *Bus) Close() error {
	b.mu.Lock()
	b.closed.Store(true)
	all := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		all = append(all, s)
	}
	b.mu.Unlock()

	var errs []error
	for _, s := range all {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

type subscription struct {
	bus  *Bus
	name string // the Redis channel
	c    chan []byte
	done chan struct{} // closed once forward has closed c

	stop func() bool // unregisters the ctx watcher

	mu      sync.Mutex
	ps      *goredis.PubSub // replaced when a sharded subscription moves
	closing bool

	once sync.Once
	err  error
}

func (s *subscription) C() <-chan []byte { return s.c }

// Close ends the subscription and returns once C is closed.
func (s *subscription) Close() error {
	s.once.Do(func() {
		s.stop()
		if err := s.closePubSub(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			s.err = fmt.Errorf("redis: close subscription: %w", err)
		}
		<-s.done
	})
	return s.err
}

// closePubSub closes the current PubSub and keeps forward from opening
// another.
func (s *subscription) closePubSub() error {
	s.mu.Lock()
	s.closing = true
	ps := s.ps
	s.mu.Unlock()
	return ps.Close()
}

// forward moves messages from go-redis into C without ever blocking, so a
// slow reader loses messages instead of stalling the connection. go-redis
// closes its channel when the PubSub is closed, whoever closed it.
func (s *subscription) forward(ps *goredis.PubSub) {
	defer close(s.done)
	defer close(s.c)
	if !s.bus.sharded {
		for m := range ps.Channel() {
			s.deliver(m)
		}
	} else {
		for ps != nil && s.forwardSharded(ps) {
			ps = s.resubscribe()
		}
	}
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
}

func (s *subscription) deliver(m *goredis.Message) {
	select {
	case s.c <- []byte(m.Payload):
	default:
		s.bus.dropped.Add(1)
	}
}

// forwardSharded forwards until ps is closed, and reports whether it ended
// because Redis dropped the subscription: a node that no longer owns the
// channel's slot sends SUNSUBSCRIBE to its subscribers.
func (s *subscription) forwardSharded(ps *goredis.PubSub) (moved bool) {
	for v := range ps.ChannelWithSubscriptions() {
		switch m := v.(type) {
		case *goredis.Message:
			s.deliver(m)
		case *goredis.Subscription:
			if m.Kind == "sunsubscribe" && m.Channel == s.name {
				return true
			}
		}
	}
	return false
}

// resubscribe subscribes again, wherever the slot is now, until it succeeds
// or the subscription is closed (nil). Messages published in between are
// lost, as during any reconnect; room numbering shows the gap to clients.
func (s *subscription) resubscribe() *goredis.PubSub {
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
		ps := s.bus.pubSub(ctx, s.name)
		err := s.bus.confirm(ctx, ps, s.name)
		if err == nil {
			s.mu.Lock()
			if s.closing {
				s.mu.Unlock()
				cancel()
				_ = ps.Close()
				return nil
			}
			old := s.ps
			s.ps = ps
			s.mu.Unlock()
			cancel()
			_ = old.Close()
			return ps
		}
		_ = ps.Close()
		_ = backoff(ctx, s.bus.client, attempt)
		cancel()
	}
}
