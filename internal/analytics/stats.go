package analytics

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Stats is a show's analytics, as the brand console and the API show them.
type Stats struct {
	ShowID uuid.UUID `json:"show_id"`
	// PeakViewers is the highest number of viewers connected at once over
	// every node, sampled every SampleEvery.
	PeakViewers   int64 `json:"peak_viewers"`
	UniqueViewers int64 `json:"unique_viewers"`
	// Joins counts connections, reconnects included.
	Joins           int64        `json:"joins"`
	WatchSeconds    int64        `json:"watch_seconds"`
	AvgWatchSeconds int64        `json:"avg_watch_seconds"`
	ChatMessages    int64        `json:"chat_messages"`
	Reactions       int64        `json:"reactions"`
	CardTaps        int64        `json:"card_taps"`
	Reservations    int64        `json:"reservations"`
	ReservedUnits   int64        `json:"reserved_units"`
	Orders          int64        `json:"orders"`
	Units           int64        `json:"units"`
	Buyers          int64        `json:"buyers"`
	ViewerBuyers    int64        `json:"viewer_buyers"`
	Conversion      float64      `json:"conversion"`
	GMV             []Money      `json:"gmv"`
	Offers          []OfferStats `json:"offers"`
	Minutes         []Minute     `json:"minutes"`
	// Replay is what the show's replay did after it ended, apart from the
	// live figures above (its sales are part of the totals).
	Replay ReplayStats `json:"replay"`
}

// OfferStats is one offer's funnel: taps on its card, then holds and orders.
type OfferStats struct {
	OfferID       uuid.UUID `json:"offer_id"`
	Currency      string    `json:"currency"`
	CardTaps      int64     `json:"card_taps"`
	Reservations  int64     `json:"reservations"`
	ReservedUnits int64     `json:"reserved_units"`
	Orders        int64     `json:"orders"`
	Units         int64     `json:"units"`
	GMVMinor      int64     `json:"gmv_minor"`
}

// Minute is one point of the per-minute series.
type Minute struct {
	At           time.Time `json:"at"`
	Viewers      int64     `json:"viewers"`
	Reservations int64     `json:"reservations"`
	Orders       int64     `json:"orders"`
	Units        int64     `json:"units"`
	GMV          []Money   `json:"gmv"`
}

// maxMinutes bounds the series: a week of minutes.
const maxMinutes = 7 * 24 * 60

// Stats reads the show's figures: what every node's recorder stored (not
// what this one still holds in memory, so a figure trails by up to one
// flush period) and the sales from the ledger.
func (r *Recorder) Stats(ctx context.Context, showID uuid.UUID) (*Stats, error) {
	c, err := r.Store.ShowAnalytics(ctx, showID)
	if err != nil {
		return nil, err
	}
	s, err := r.Store.ShowSales(ctx, showID)
	if err != nil {
		return nil, err
	}
	rf, err := replayFigures(ctx, r.Store, []uuid.UUID{showID})
	if err != nil {
		return nil, err
	}
	st := combine(showID, c, s)
	st.Replay = replayStats(rf)
	return st, nil
}

// combine builds a show's Stats from what was collected and what was sold.
func combine(showID uuid.UUID, c *Collected, s *Sales) *Stats {
	st := &Stats{ShowID: showID, UniqueViewers: c.UniqueViewers, Joins: c.Joins, WatchSeconds: c.WatchMillis / 1000,
		ChatMessages: c.Chats, Reactions: c.Reactions, Reservations: s.Reservations, ReservedUnits: s.ReservedUnits,
		Orders: s.Orders, Units: s.Units, Buyers: s.Buyers, ViewerBuyers: s.ViewerBuyers, GMV: nonNil(s.GMV),
		Offers: []OfferStats{}, Minutes: []Minute{}, Replay: ReplayStats{GMV: []Money{}}}
	if c.UniqueViewers > 0 {
		st.AvgWatchSeconds = st.WatchSeconds / c.UniqueViewers
		st.Conversion = math.Round(float64(s.ViewerBuyers)/float64(c.UniqueViewers)*1e4) / 1e4
	}
	for _, n := range c.Taps {
		st.CardTaps += n
	}
	seen := map[uuid.UUID]bool{}
	for _, o := range s.Offers {
		seen[o.OfferID] = true
		st.Offers = append(st.Offers, OfferStats{OfferID: o.OfferID, Currency: o.Currency, CardTaps: c.Taps[o.OfferID],
			Reservations: o.Reservations, ReservedUnits: o.ReservedUnits, Orders: o.Orders, Units: o.Units, GMVMinor: o.GMVMinor})
	}
	// Taps on an offer the ledger does not list (deleted since) still count
	// in the total and keep a row of their own.
	for id, n := range c.Taps {
		if !seen[id] {
			st.Offers = append(st.Offers, OfferStats{OfferID: id, CardTaps: n})
		}
	}
	slices.SortFunc(st.Offers, func(a, b OfferStats) int { return strings.Compare(a.OfferID.String(), b.OfferID.String()) })

	viewers := map[time.Time]int64{}
	for _, smp := range c.Samples {
		st.PeakViewers = max(st.PeakViewers, smp.Viewers)
		m := smp.At.UTC().Truncate(time.Minute)
		viewers[m] = max(viewers[m], smp.Viewers)
	}
	sales := map[time.Time]SalesMinute{}
	for _, m := range s.Minutes {
		sales[m.At.UTC().Truncate(time.Minute)] = m
	}
	var first, last time.Time
	for m := range viewers {
		first, last = earliest(first, m), latest(last, m)
	}
	for m := range sales {
		first, last = earliest(first, m), latest(last, m)
	}
	if first.IsZero() {
		return st
	}
	for m, n := first, 0; !m.After(last) && n < maxMinutes; m, n = m.Add(time.Minute), n+1 {
		p := Minute{At: m, Viewers: viewers[m], GMV: []Money{}}
		if sm, ok := sales[m]; ok {
			p.Reservations, p.Orders, p.Units, p.GMV = sm.Reservations, sm.Orders, sm.Units, nonNil(sm.GMV)
		}
		st.Minutes = append(st.Minutes, p)
	}
	return st
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func nonNil(m []Money) []Money {
	if m == nil {
		return []Money{}
	}
	return m
}
