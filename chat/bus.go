package chat

import "context"

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
