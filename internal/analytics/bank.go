package analytics

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// The brand's data bank: its shows seen together, as people. Where Stats
// counts events of one show, the bank counts distinct people across shows
// (a viewer key: "u:<user id>", or "a:<visitor key>" for an anonymous
// browser), and the lost intents of every offer by cause.

// BankStore is what the data bank reads. The SQLite and PostgreSQL stores
// implement it with set queries: nothing is loaded person by person.
type BankStore interface {
	// BrandShows lists the brand's shows starting in [from, to), cancelled
	// ones left out, by start time, at most MaxBankShows (the latest).
	BrandShows(ctx context.Context, brandID uuid.UUID, from, to time.Time) ([]ShowRef, error)
	// Funnel counts the people of a scope at each step (see FunnelCounts).
	Funnel(ctx context.Context, s FunnelScope) (*FunnelCounts, error)
	// LostIntents lists the shows' lost-intent counts, by show, offer and cause.
	LostIntents(ctx context.Context, showIDs []uuid.UUID) ([]LostRow, error)
	// Audience counts the brand's audiences as they stood just before at.
	Audience(ctx context.Context, brandID uuid.UUID, at time.Time) (*AudienceCounts, error)
}

// MaxBankShows bounds the shows one request reads.
const MaxBankShows = 100

// MaxBankPeriod bounds the period one request covers.
const MaxBankPeriod = 366 * 24 * time.Hour

// ShowRef names a show in the bank.
type ShowRef struct {
	ID       uuid.UUID `json:"id"`
	Title    string    `json:"title"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	State    string    `json:"state"`
}

// FunnelScope is what a funnel counts: the people of Shows (viewers, card
// tappers, holders, buyers, "notify me" subscribers), and the brand's
// followers who followed in [FollowFrom, FollowTo). Purchases up to Until
// decide who bought again and who never bought.
type FunnelScope struct {
	BrandID              uuid.UUID
	Shows                []uuid.UUID
	FollowFrom, FollowTo time.Time
	Until                time.Time
}

// FunnelCounts are the distinct people at each step of a scope. Each step
// counts the people who got at least that far, so the steps never grow:
//
//   - Reached: watched a show of the scope live or its replay (signed in
//     or not), or did any of what follows.
//   - Engaged: chatted, reacted, watched ≥ WatchedAtLeast or tapped a card
//     in a show, asked to be notified of one, or followed the brand in the
//     follow window; or went further.
//   - Tapped: opened a product card, or went further.
//   - Held: won a hold (whatever became of it), or bought.
//   - Bought: has a paid or fulfilled order in a show of the scope.
//   - BoughtAgain: of those who bought, the ones with paid or fulfilled
//     orders in at least two of the brand's shows (up to Until).
//
// TappedNotBought are the people who tapped or held in the scope and have
// no paid or fulfilled order with the brand at all (up to Until).
type FunnelCounts struct {
	Reached, Engaged, Tapped, Held, Bought, BoughtAgain int64
	TappedNotBought                                     int64
}

// LostRow is one cause's count on one offer of one show, with what the
// console names the offer by (empty for an offer removed since).
type LostRow struct {
	ShowID  uuid.UUID
	OfferID uuid.UUID
	Offer   string
	Cause   string
	N       int64
}

// AudienceCounts are the brand's audiences at one moment: its followers
// (those still following, by when they followed: an unfollow removes the
// person from the past too), the Pavilion members among them, and its
// repeat buyers (paid or fulfilled orders in two shows or more).
type AudienceCounts struct {
	Followers, Members, RepeatBuyers int64
}

// BankQuery is one request to the data bank: a brand, a period [From, To)
// of show start times, and optionally one show of it.
type BankQuery struct {
	BrandID  uuid.UUID
	From, To time.Time
	Show     uuid.UUID // zero: every show of the period
}

// Bank is the brand's data bank with exact figures. It is for the domain
// and tests; people see Public(), where small groups are masked.
type Bank struct {
	BrandID uuid.UUID
	From    time.Time
	To      time.Time
	Show    uuid.UUID
	// Bucket is the trend's step: a day for periods up to 62 days, else a week.
	Bucket time.Duration
	Funnel FunnelCounts
	Shows  []ShowBank
	Lost   []LostRow
	// Audience is as the period ends; Trend at the end of each bucket, with
	// the tapped-but-never-bought of the shows that started in it.
	Audience        AudienceCounts
	TappedNotBought int64
	Trend           []TrendPoint
	// Replay is what the shows' replays did: viewers and sales apart from
	// live ones (the people are in the funnel too).
	Replay ReplayFigures
}

// ShowBank is one show's funnel and lost intents by cause.
type ShowBank struct {
	Show   ShowRef
	Funnel FunnelCounts
	Lost   map[string]int64
	Replay ReplayFigures
}

// TrendPoint is the audiences at the end of the bucket starting At.
type TrendPoint struct {
	At time.Time
	AudienceCounts
	TappedNotBought int64
}

// Bank reads the brand's data bank for the query from the store.
func (r *Recorder) Bank(ctx context.Context, q BankQuery) (*Bank, error) {
	bs, ok := r.Store.(BankStore)
	if !ok {
		return nil, apperr.Errorf(apperr.Unavailable, "this store keeps no data bank")
	}
	return ReadBank(ctx, bs, q)
}

// ReadBank reads the brand's data bank for the query.
func ReadBank(ctx context.Context, st BankStore, q BankQuery) (*Bank, error) {
	if !q.To.After(q.From) {
		return nil, apperr.Errorf(apperr.Invalid, "the period must end after it starts")
	}
	if q.To.Sub(q.From) > MaxBankPeriod {
		return nil, apperr.Errorf(apperr.Invalid, "a period is at most 366 days")
	}
	b := &Bank{BrandID: q.BrandID, From: q.From, To: q.To, Show: q.Show, Bucket: 24 * time.Hour, Lost: []LostRow{}, Shows: []ShowBank{}, Trend: []TrendPoint{}}
	if q.To.Sub(q.From) > 62*24*time.Hour {
		b.Bucket = 7 * 24 * time.Hour
	}
	shows, err := st.BrandShows(ctx, q.BrandID, q.From, q.To)
	if err != nil {
		return nil, err
	}
	if q.Show != uuid.Nil {
		i := slices.IndexFunc(shows, func(s ShowRef) bool { return s.ID == q.Show })
		if i < 0 {
			return nil, apperr.Errorf(apperr.NotFound, "show %s is not one of this brand's shows in the period", q.Show)
		}
		shows = shows[i : i+1]
	}
	ids := make([]uuid.UUID, len(shows))
	for i, s := range shows {
		ids[i] = s.ID
	}
	follow := [2]time.Time{q.From, q.To}
	if q.Show != uuid.Nil {
		// One show: the follows made while it ran.
		follow = [2]time.Time{shows[0].StartsAt, shows[0].EndsAt}
	}
	f, err := st.Funnel(ctx, FunnelScope{BrandID: q.BrandID, Shows: ids, FollowFrom: follow[0], FollowTo: follow[1], Until: q.To})
	if err != nil {
		return nil, err
	}
	b.Funnel = *f
	b.TappedNotBought = f.TappedNotBought
	lost, err := st.LostIntents(ctx, ids)
	if err != nil {
		return nil, err
	}
	b.Lost = append(b.Lost, lost...)
	rf, err := replayFigures(ctx, st, ids)
	if err != nil {
		return nil, err
	}
	b.Replay = *rf
	for _, s := range shows {
		sf, err := st.Funnel(ctx, FunnelScope{BrandID: q.BrandID, Shows: []uuid.UUID{s.ID}, FollowFrom: s.StartsAt, FollowTo: s.EndsAt, Until: q.To})
		if err != nil {
			return nil, err
		}
		srf, err := replayFigures(ctx, st, []uuid.UUID{s.ID})
		if err != nil {
			return nil, err
		}
		sb := ShowBank{Show: s, Funnel: *sf, Lost: map[string]int64{}, Replay: *srf}
		for _, l := range lost {
			if l.ShowID == s.ID {
				sb.Lost[l.Cause] += l.N
			}
		}
		b.Shows = append(b.Shows, sb)
	}
	a, err := st.Audience(ctx, q.BrandID, q.To)
	if err != nil {
		return nil, err
	}
	b.Audience = *a
	for at := q.From; at.Before(q.To); at = at.Add(b.Bucket) {
		end := at.Add(b.Bucket)
		if end.After(q.To) {
			end = q.To
		}
		a, err := st.Audience(ctx, q.BrandID, end)
		if err != nil {
			return nil, err
		}
		p := TrendPoint{At: at, AudienceCounts: *a}
		var in []uuid.UUID
		for _, s := range shows {
			if !s.StartsAt.Before(at) && s.StartsAt.Before(end) {
				in = append(in, s.ID)
			}
		}
		if len(in) > 0 {
			tf, err := st.Funnel(ctx, FunnelScope{BrandID: q.BrandID, Shows: in, FollowFrom: at, FollowTo: end, Until: end})
			if err != nil {
				return nil, err
			}
			p.TappedNotBought = tf.TappedNotBought
		}
		b.Trend = append(b.Trend, p)
	}
	return b, nil
}

// Privacy: brands see groups of people only when there are at least
// PrivacyFloor of them; a smaller group (but not an empty one) is shown as
// "fewer than 10", and nothing derived from it (a conversion) is shown.
const PrivacyFloor = 10

// People is a count of people as a brand may see it: Count, or FewerThan10
// (and no count) for a group of 1 to PrivacyFloor-1.
type People struct {
	Count       *int64 `json:"count"`
	FewerThan10 bool   `json:"fewer_than_10"`
}

// MaskPeople applies the privacy floor to a count of people.
func MaskPeople(n int64) People {
	if n > 0 && n < PrivacyFloor {
		return People{FewerThan10: true}
	}
	return People{Count: &n}
}

// String is the count for a table cell: the number, or "fewer than 10".
func (p People) String() string {
	if p.Count == nil {
		return "fewer than 10"
	}
	return strconv.FormatInt(*p.Count, 10)
}

// Funnel step names, in order.
var FunnelSteps = []string{"reached", "engaged", "tapped", "held", "bought", "bought_again"}

// Step is one step of a funnel as brands see it. Conversion is the share of
// the previous step's people who got here (nil for the first step, and when
// either count is masked or the previous one is zero).
type Step struct {
	Step       string   `json:"step"`
	People     People   `json:"people"`
	Conversion *float64 `json:"conversion"`
}

// Insights is the data bank as brand admins see it: aggregates only, small
// groups masked. Lost intents count events (taps, holds, charges), not
// people, and are shown exactly.
type Insights struct {
	BrandID uuid.UUID  `json:"brand_id"`
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	Show    *uuid.UUID `json:"show,omitempty"`
	Bucket  string     `json:"bucket"` // "day" or "week"
	// Replay: the people who played a replay of the shows (they count in
	// the funnel's reached step too) and the replays' sales (part of bought).
	Replay     ReplayInsights   `json:"replay"`
	Funnel     []Step           `json:"funnel"`
	Shows      []ShowInsights   `json:"shows"`
	Causes     []string         `json:"causes"`
	LostTotals map[string]int64 `json:"lost_totals"`
	Lost       []LostOffer      `json:"lost"`
	Audiences  Audiences        `json:"audiences"`
}

// ShowInsights is one show's row.
type ShowInsights struct {
	ShowRef
	Funnel []Step           `json:"funnel"`
	Lost   map[string]int64 `json:"lost"`
	Replay ReplayInsights   `json:"replay"`
}

// ReplayInsights is what replays did, as brands see it: the people masked
// like every group, the plays and orders (events) exact.
type ReplayInsights struct {
	Viewers People  `json:"viewers"`
	Views   int64   `json:"views"`
	Orders  int64   `json:"orders"`
	Units   int64   `json:"units"`
	GMV     []Money `json:"gmv"`
}

func replayInsights(f ReplayFigures) ReplayInsights {
	return ReplayInsights{Viewers: MaskPeople(f.Viewers), Views: f.Views, Orders: f.Orders, Units: f.Units, GMV: nonNil(f.GMV)}
}

// LostOffer is one offer's lost intents by cause.
type LostOffer struct {
	ShowID  uuid.UUID        `json:"show_id"`
	OfferID uuid.UUID        `json:"offer_id"`
	Offer   string           `json:"offer"`
	Causes  map[string]int64 `json:"causes"`
	Total   int64            `json:"total"`
}

// Audiences are the brand's audiences now (as the period ends) and by bucket.
type Audiences struct {
	Followers       People          `json:"followers"`
	Members         People          `json:"members"`
	RepeatBuyers    People          `json:"repeat_buyers"`
	TappedNotBought People          `json:"tapped_not_bought"`
	Trend           []AudiencePoint `json:"trend"`
}

// AudiencePoint is the audiences at the end of the bucket starting At;
// TappedNotBought is of the shows that started in the bucket.
type AudiencePoint struct {
	At              time.Time `json:"at"`
	Followers       People    `json:"followers"`
	Members         People    `json:"members"`
	RepeatBuyers    People    `json:"repeat_buyers"`
	TappedNotBought People    `json:"tapped_not_bought"`
}

// Public is the bank as its brand's admins may see it.
func (b *Bank) Public() *Insights {
	in := &Insights{BrandID: b.BrandID, From: b.From, To: b.To, Bucket: "day", Funnel: funnelSteps(b.Funnel), Replay: replayInsights(b.Replay),
		Shows: []ShowInsights{}, Causes: Causes, LostTotals: map[string]int64{}, Lost: []LostOffer{},
		Audiences: Audiences{Followers: MaskPeople(b.Audience.Followers), Members: MaskPeople(b.Audience.Members),
			RepeatBuyers: MaskPeople(b.Audience.RepeatBuyers), TappedNotBought: MaskPeople(b.TappedNotBought),
			Trend: []AudiencePoint{}}}
	if b.Show != uuid.Nil {
		id := b.Show
		in.Show = &id
	}
	if b.Bucket > 24*time.Hour {
		in.Bucket = "week"
	}
	for _, c := range Causes {
		in.LostTotals[c] = 0
	}
	for _, s := range b.Shows {
		in.Shows = append(in.Shows, ShowInsights{ShowRef: s.Show, Funnel: funnelSteps(s.Funnel), Lost: s.Lost, Replay: replayInsights(s.Replay)})
	}
	byOffer := map[[2]uuid.UUID]*LostOffer{}
	for _, l := range b.Lost {
		in.LostTotals[l.Cause] += l.N
		k := [2]uuid.UUID{l.ShowID, l.OfferID}
		o := byOffer[k]
		if o == nil {
			in.Lost = append(in.Lost, LostOffer{ShowID: l.ShowID, OfferID: l.OfferID, Offer: l.Offer, Causes: map[string]int64{}})
			o = &in.Lost[len(in.Lost)-1]
			byOffer[k] = o
		}
		o.Causes[l.Cause] += l.N
		o.Total += l.N
	}
	for _, p := range b.Trend {
		in.Audiences.Trend = append(in.Audiences.Trend, AudiencePoint{At: p.At, Followers: MaskPeople(p.Followers),
			Members: MaskPeople(p.Members), RepeatBuyers: MaskPeople(p.RepeatBuyers), TappedNotBought: MaskPeople(p.TappedNotBought)})
	}
	return in
}

// funnelSteps masks a funnel's counts and works out conversions between
// steps that are both shown.
func funnelSteps(f FunnelCounts) []Step {
	counts := []int64{f.Reached, f.Engaged, f.Tapped, f.Held, f.Bought, f.BoughtAgain}
	steps := make([]Step, len(counts))
	for i, n := range counts {
		steps[i] = Step{Step: FunnelSteps[i], People: MaskPeople(n)}
		if i == 0 {
			continue
		}
		prev := steps[i-1].People
		if prev.Count == nil || steps[i].People.Count == nil || *prev.Count == 0 {
			continue
		}
		c := math.Round(float64(n)/float64(*prev.Count)*1e4) / 1e4
		steps[i].Conversion = &c
	}
	return steps
}
