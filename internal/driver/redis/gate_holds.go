package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
)

// holdsCoalescer turns the Holds questions of a sold-out stampede — one per
// refused tap that carries an idempotency key — into one Redis round trip
// per offer at a time. Each question joins the next read of its offer, never
// one already on the wire, so every answer reflects Redis at a moment after
// the question was asked: a customer whose winning tap completed before the
// retry arrived is always seen.
type holdsCoalescer struct {
	mu      sync.Mutex
	pending map[uuid.UUID][]*holdsRequest
	running map[uuid.UUID]bool
}

type holdsRequest struct {
	user uuid.UUID
	done chan holdsAnswer // buffered: the reader never blocks on a caller that left
}

type holdsAnswer struct {
	n     int
	known bool
	err   error
}

// maxHoldsBatch bounds one HMGET.
const maxHoldsBatch = 1024

// Holds reports the customer's count for the offer and whether the offer is loaded.
func (g *Gate) Holds(ctx context.Context, offerID, userID uuid.UUID) (int, bool, error) {
	if g.closed.Load() {
		return 0, false, fmt.Errorf("redis: gate holds: %w", ErrGateClosed)
	}
	req := &holdsRequest{user: userID, done: make(chan holdsAnswer, 1)}
	c := &g.holds
	c.mu.Lock()
	if c.pending == nil {
		c.pending, c.running = map[uuid.UUID][]*holdsRequest{}, map[uuid.UUID]bool{}
	}
	c.pending[offerID] = append(c.pending[offerID], req)
	if !c.running[offerID] {
		c.running[offerID] = true
		go g.readHolds(offerID)
	}
	c.mu.Unlock()
	select {
	case a := <-req.done:
		return a.n, a.known, a.err
	case <-ctx.Done():
		return 0, false, fmt.Errorf("redis: gate holds: %w", ctx.Err())
	}
}

// readHolds answers an offer's waiting questions, batch after batch, until
// none are left.
func (g *Gate) readHolds(offerID uuid.UUID) {
	c := &g.holds
	for {
		c.mu.Lock()
		batch := c.pending[offerID]
		if len(batch) > maxHoldsBatch {
			c.pending[offerID] = batch[maxHoldsBatch:]
			batch = batch[:maxHoldsBatch]
		} else {
			delete(c.pending, offerID)
		}
		if len(batch) == 0 {
			delete(c.running, offerID)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		g.answerHolds(offerID, batch)
	}
}

func (g *Gate) answerHolds(offerID uuid.UUID, batch []*holdsRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.batchTimeout)
	defer cancel()
	keys := g.keys(offerID)
	fields := make([]string, len(batch))
	for i, r := range batch {
		fields[i] = r.user.String()
	}
	var (
		exists *goredis.IntCmd
		counts *goredis.SliceCmd
	)
	err := retryUnexecuted(ctx, g.client, func(ctx context.Context) error {
		pipe := g.client.Pipeline()
		exists = pipe.Exists(ctx, keys[0])
		counts = pipe.HMGet(ctx, keys[1], fields...)
		_, err := pipe.Exec(ctx)
		return err
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		for _, r := range batch {
			r.done <- holdsAnswer{err: fmt.Errorf("redis: gate holds: %w", err)}
		}
		return
	}
	known := exists.Val() > 0
	vals := counts.Val()
	for i, r := range batch {
		a := holdsAnswer{known: known}
		if known && i < len(vals) && vals[i] != nil {
			s, _ := vals[i].(string)
			n, perr := strconv.Atoi(s)
			if perr != nil {
				a = holdsAnswer{err: fmt.Errorf("redis: gate holds: count %q: %w", s, perr)}
			}
			a.n = n
		}
		r.done <- a
	}
}
