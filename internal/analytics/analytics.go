// Package analytics owns the per-show figures brands and hosts see after (and
// during) a show: audience, engagement and the sales funnel.
//
// Audience and engagement (joins, unique viewers, concurrent viewers over
// time, watch time, chat messages, reactions, product card taps) are
// counted by a Recorder that the live room calls on its hot path: it only
// touches memory, and a flush loop writes batched increments to the Store
// every few seconds and at shutdown. Every node has its own Recorder; the
// store adds their increments and keeps their viewer samples apart, so no
// node ever overwrites another's figures.
//
// Sales (reservations, orders, units, GMV, buyers) are not counted here at
// all: the checkout ledger already holds every reservation and order, so
// Stats reads them from it, exactly, and nothing can be counted twice.
//
// The package never does I/O on the caller's goroutine of a Recorder method,
// and never imports a driver: the SQLite and PostgreSQL stores implement
// Store.
package analytics

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SampleEvery is how often concurrent viewers are sampled: at every
// multiple of it (by the clock), each node records how many viewers it has;
// the store adds the nodes' samples of one instant, the peak is the highest
// sum, and a minute's viewer figure is the highest sum within it.
const SampleEvery = 10 * time.Second

// Store keeps the collected figures and reads the sales ones from the ledger.
type Store interface {
	// ApplyAnalytics adds a batch's increments in one transaction. A batch is
	// applied at most once: the store remembers the highest Seq applied per
	// Node and ignores a batch at or below it (a retry whose first attempt
	// did commit).
	ApplyAnalytics(ctx context.Context, b *Batch) error
	// ShowAnalytics returns what the recorders collected for the show; zero
	// figures (not an error) for a show nothing was recorded for.
	ShowAnalytics(ctx context.Context, showID uuid.UUID) (*Collected, error)
	// ShowSales reads the show's reservations and orders from the ledger.
	ShowSales(ctx context.Context, showID uuid.UUID) (*Sales, error)
}

// Batch is one flush of one node's recorder. Shows are in ascending ShowID
// (byte) order and each delta's Viewers ascending, so that stores applying
// several nodes' batches at once take their row locks in one order.
type Batch struct {
	Node  string // the recorder's node name, stable for the process's life
	Seq   int64  // increases by one with every batch the node sends
	Shows []ShowDelta
}

// ShowDelta is what happened in one show on one node since the last batch.
type ShowDelta struct {
	ShowID      uuid.UUID
	Joins       int64
	Chats       int64
	Reactions   int64
	WatchMillis int64
	// Taps by offer.
	Taps map[uuid.UUID]int64
	// Viewers are viewer keys first seen by this node since its last batch
	// ("u:<user id>" for a signed-in viewer, "a:<visitor key>" otherwise); the
	// store keeps each key once per show.
	Viewers []string
	// Samples are this node's concurrent viewers at sample instants
	// (multiples of SampleEvery); instants with none are left out. An
	// instant sent twice keeps the higher value.
	Samples []Sample
	// Lost are lost intents by offer and cause, ascending by offer then cause.
	Lost []Lost
	// People are engagement flags newly set on viewers, ascending by key;
	// the store ORs them into what it has, so a flag sent twice is kept once.
	People []PersonFlags
	// ReplayViews counts plays of the show's replay; ReplayViewers are the
	// viewer keys that played it since the last batch, ascending (the store
	// keeps each once per show, apart from the live viewers).
	ReplayViews   int64
	ReplayViewers []string
	// ReplayHolds are holds made from the replay (after the show ended),
	// ascending: their counted orders are the show's replay sales.
	ReplayHolds []uuid.UUID
}

// Lost is a count of lost intents of one cause on one offer.
type Lost struct {
	OfferID uuid.UUID
	Cause   string
	N       int64
}

// PersonFlags are engagement flags of one viewer key in one show.
type PersonFlags struct {
	Viewer string
	Flags  Engagement
}

// Engagement is a set of the ways a viewer took part in a show.
type Engagement uint8

const (
	// Chatted: posted at least one chat message.
	Chatted Engagement = 1 << iota
	// Reacted: sent at least one reaction.
	Reacted
	// Watched: was connected for WatchedAtLeast in all (on one node).
	Watched
	// Tapped: opened at least one product card.
	Tapped
)

// WatchedAtLeast is the watch time that makes a viewer "engaged".
const WatchedAtLeast = time.Minute

// Lost-intent causes: why a wish to buy did not become a sale. Each is
// counted where it is decided (checkout's buy path, its sweeper, the
// payment path, the draw), once per event.
const (
	// CauseSoldOut: a buy tap refused because no units were left.
	CauseSoldOut = "sold_out"
	// CauseLimitReached: a buy tap over the customer's per-customer limit.
	CauseLimitReached = "limit_reached"
	// CauseDropClosed: a buy tap on an offer not on sale (its flash-drop
	// window is not open, or its show is over).
	CauseDropClosed = "drop_closed"
	// CauseNotInDraw: a draw entry that did not get a hold when the draw was drawn.
	CauseNotInDraw = "not_in_draw"
	// CauseHoldExpired: a hold that expired without its buyer ever
	// submitting payment for it.
	CauseHoldExpired = "hold_expired"
	// CauseReleased: a hold its buyer let go.
	CauseReleased = "released"
	// CausePaymentDeclined: a charge the provider declined (each attempt;
	// the buyer may try another card while the hold lasts).
	CausePaymentDeclined = "payment_declined"
	// CauseCheckoutAbandoned: a hold that expired after its buyer had
	// submitted payment for it at least once (the charge was declined or
	// never completed) — they reached checkout and left.
	CauseCheckoutAbandoned = "checkout_abandoned"
	// CauseOther: a cause this version does not name (never sent by it).
	CauseOther = "other"
)

// Causes lists the named causes, in the order the console shows them.
var Causes = []string{CauseSoldOut, CauseLimitReached, CauseDropClosed, CauseNotInDraw, CauseHoldExpired,
	CauseReleased, CausePaymentDeclined, CauseCheckoutAbandoned}

// Sample is the number of viewers connected at the instant At.
type Sample struct {
	At      time.Time
	Viewers int64
}

// Collected is what the recorders stored for a show, over every node.
type Collected struct {
	Joins         int64
	Chats         int64
	Reactions     int64
	WatchMillis   int64
	UniqueViewers int64
	Taps          map[uuid.UUID]int64
	// Samples hold, per instant, the sum over every node, ascending.
	Samples []Sample
}

// Sales is the show's funnel as the ledger records it. An order counts when
// it is paid or fulfilled (not pending, cancelled or refunded); a
// reservation counts whatever became of it (every hold a buyer won).
type Sales struct {
	Reservations  int64
	ReservedUnits int64
	Orders        int64
	Units         int64
	// Buyers are the distinct customers with a counted order; ViewerBuyers
	// those of them who watched the show signed in (their user key is among
	// the show's viewers).
	Buyers       int64
	ViewerBuyers int64
	GMV          []Money
	Offers       []OfferSales
	Minutes      []SalesMinute
}

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Currency string `json:"currency"`
	Minor    int64  `json:"minor"`
}

// OfferSales is one offer's part of Sales.
type OfferSales struct {
	OfferID       uuid.UUID
	Currency      string
	Reservations  int64
	ReservedUnits int64
	Orders        int64
	Units         int64
	GMVMinor      int64
}

// SalesMinute is the ledger's activity in the minute starting at At:
// reservations made and counted orders placed then.
type SalesMinute struct {
	At           time.Time
	Reservations int64
	Orders       int64
	Units        int64
	GMV          []Money
}

// AddMinute adds a ledger row to the minute starting at at: reservations
// (order false) or counted orders in one currency. Drivers call it with
// their rows in ascending time.
func (s *Sales) AddMinute(at time.Time, order bool, currency string, count, units, gmvMinor int64) {
	if n := len(s.Minutes); n == 0 || !s.Minutes[n-1].At.Equal(at) {
		s.Minutes = append(s.Minutes, SalesMinute{At: at, GMV: []Money{}})
	}
	m := &s.Minutes[len(s.Minutes)-1]
	if !order {
		m.Reservations += count
		return
	}
	m.Orders += count
	m.Units += units
	m.GMV = addMoney(m.GMV, currency, gmvMinor)
}

// Total fills the show's totals from its offers' figures.
func (s *Sales) Total() {
	s.Reservations, s.ReservedUnits, s.Orders, s.Units, s.GMV = 0, 0, 0, 0, []Money{}
	for _, o := range s.Offers {
		s.Reservations += o.Reservations
		s.ReservedUnits += o.ReservedUnits
		s.Orders += o.Orders
		s.Units += o.Units
		if o.Orders > 0 {
			s.GMV = addMoney(s.GMV, o.Currency, o.GMVMinor)
		}
	}
}

// addMoney adds minor units of currency to list, kept sorted by currency.
func addMoney(list []Money, currency string, minor int64) []Money {
	for i := range list {
		if list[i].Currency == currency {
			list[i].Minor += minor
			return list
		}
	}
	list = append(list, Money{Currency: currency, Minor: minor})
	slices.SortFunc(list, func(a, b Money) int { return strings.Compare(a.Currency, b.Currency) })
	return list
}
