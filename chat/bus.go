package chat

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Bus carries live-room events between nodes. The embedded mode uses an
// in-process implementation; cluster mode uses Redis pub/sub. Delivery is
// at-most-once and ordered per channel per publisher: the room's sequence
// numbers and resume (built on top) are what make a gap visible to a client.
type Bus interface {
	// Publish sends msg to every current subscriber of channel, on every node.
	Publish(ctx context.Context, channel string, msg []byte) error
	// Subscribe starts receiving messages published to channel after it returns.
	// The subscription ends when ctx is done or Close is called.
	Subscribe(ctx context.Context, channel string) (Subscription, error)
	// Append gives msg the channel's next sequence number and publishes it
	// framed as Frame(seq, msg), atomically: every subscriber on every node
	// receives a channel's appended messages in sequence order, numbered
	// 1, 2, 3… within an epoch. It returns the number and the epoch it
	// belongs to, read in the same step (the node that sent a chat line
	// keeps it under that name, even as the numbering restarts).
	Append(ctx context.Context, channel string, msg []byte) (seq uint64, epoch string, err error)
	// Epoch names the current numbering of the channel. It changes when the
	// numbering restarts (a Redis that lost its data), so a client resuming
	// with an old epoch knows its sequence numbers mean nothing any more.
	Epoch(ctx context.Context, channel string) (string, error)
	// Recent returns the channel's epoch and its last appended messages,
	// at most max (and at most BusHistory), framed as Append published
	// them, oldest first, numbered without a hole up to the channel's last
	// number, all read in one step. A room opening on a node that has not
	// followed the channel (the node restarted, or nobody watched the show
	// there) starts from it, so a viewer resuming there gets the events it
	// missed instead of a reset. Empty when the channel has appended
	// nothing in this epoch, or the bus no longer has the history.
	Recent(ctx context.Context, channel string, max int) (epoch string, msgs [][]byte, err error)
	// Presence records that this node has n viewers on channel (refreshed
	// every few seconds; a record not refreshed for ttl is dropped) and
	// returns the total over every live node.
	Presence(ctx context.Context, channel, node string, n int, ttl time.Duration) (int, error)
	// Ping reports whether the bus can carry messages now (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the bus's resources; subscriptions end.
	Close() error
}

// Subscription is one consumer of a channel.
type Subscription interface {
	// C delivers messages in publish order. It is closed when the subscription ends.
	C() <-chan []byte
	// Close ends the subscription. It is safe to call more than once.
	Close() error
}

// BusHistory is how many of a channel's last appended messages a bus keeps
// for Recent: as many as a room keeps for resume by default.
const BusHistory = 1000

// Frame is how Append frames a message on the wire: the decimal sequence
// number, a space, the message.
func Frame(seq uint64, msg []byte) []byte {
	b := strconv.AppendUint(make([]byte, 0, len(msg)+21), seq, 10)
	b = append(b, ' ')
	return append(b, msg...)
}

// ErrNotFramed: a message received on a channel was not published by Append.
var ErrNotFramed = errors.New("chat: message has no sequence frame")

// Unframe splits a message published by Append.
func Unframe(b []byte) (seq uint64, msg []byte, err error) {
	for i, c := range b {
		if c == ' ' {
			seq, err = strconv.ParseUint(string(b[:i]), 10, 64)
			if err != nil || seq == 0 {
				return 0, nil, ErrNotFramed
			}
			return seq, b[i+1:], nil
		}
		if c < '0' || c > '9' || i > 20 {
			break
		}
	}
	return 0, nil, ErrNotFramed
}
