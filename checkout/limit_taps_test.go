package checkout

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// limitWorld is one show's offers in memory, a ledger that knows each
// customer's units, and a gate that must be loaded from it.
type limitWorld struct {
	Store
	Ledger
	Gate
	offers    map[uuid.UUID]*Offer
	customers map[uuid.UUID]int // units of the offers per customer, in the ledger
	gate      map[uuid.UUID]map[uuid.UUID]int
	loads     int
	lost      []string
}

func (w *limitWorld) OfferByID(_ context.Context, id uuid.UUID) (*Offer, error) {
	if o, ok := w.offers[id]; ok {
		return o, nil
	}
	return nil, apperr.Errorf(apperr.NotFound, "no offer")
}

func (w *limitWorld) SKUByID(context.Context, uuid.UUID) (*SKU, error) { return &SKU{OnHand: 100}, nil }

func (w *limitWorld) ShowByID(_ context.Context, id uuid.UUID) (*show.Show, error) {
	return &show.Show{ID: id, State: show.Live}, nil
}

func (w *limitWorld) OfferCustomers(context.Context, uuid.UUID) (map[uuid.UUID]int, error) {
	return w.customers, nil
}

func (w *limitWorld) Load(_ context.Context, offerID uuid.UUID, _ int, customers map[uuid.UUID]int, _ bool) error {
	w.loads++
	w.gate[offerID] = customers
	return nil
}

func (w *limitWorld) Holds(_ context.Context, offerID, userID uuid.UUID) (int, bool, error) {
	c, ok := w.gate[offerID]
	return c[userID], ok, nil
}

func (w *limitWorld) LostIntent(_, _ uuid.UUID, cause string) { w.lost = append(w.lost, cause) }

// TestCountLimitTap: a card tap counts as "limit reached" exactly when the
// gate says the customer has as many units as one may have; never for an
// anonymous viewer, an offer without a limit, a prize or a drop not open. A
// cold gate is loaded from the ledger once.
func TestCountLimitTap(t *testing.T) {
	ctx := context.Background()
	showID := uuid.New()
	full, under := &account.User{ID: uuid.New()}, &account.User{ID: uuid.New()}
	closes := time.Now().Add(-time.Minute)
	offer := func(limit int, price int64, drop bool) *Offer {
		o := &Offer{ID: uuid.New(), ShowID: showID, PriceMinor: price, Allocated: 10, PerCustomerLimit: limit, Drop: drop}
		if drop {
			o.DropOpensAt, o.DropClosesAt = &closes, &closes
		}
		return o
	}
	limited, unlimited, prize, shut := offer(2, 100, false), offer(0, 100, false), offer(1, 0, false), offer(1, 100, true)
	w := &limitWorld{offers: map[uuid.UUID]*Offer{}, customers: map[uuid.UUID]int{full.ID: 2, under.ID: 1},
		gate: map[uuid.UUID]map[uuid.UUID]int{}}
	for _, o := range []*Offer{limited, unlimited, prize, shut} {
		w.offers[o.ID] = o
	}
	s := &Service{Catalog: w, Ledger: w, Gate: w, Shows: w, Intents: w}
	for _, tc := range []struct {
		name string
		u    *account.User
		o    *Offer
		want bool
	}{
		{"at the limit", full, limited, true},
		{"again", full, limited, true},
		{"under the limit", under, limited, false},
		{"anonymous", nil, limited, false},
		{"no limit", full, unlimited, false},
		{"a prize", full, prize, false},
		{"a closed drop", full, shut, false},
	} {
		got, err := s.CountLimitTap(ctx, tc.u, tc.o.ID)
		if err != nil || got != tc.want {
			t.Errorf("%s: counted %v (%v), want %v", tc.name, got, err, tc.want)
		}
	}
	if len(w.lost) != 2 || w.lost[0] != LostLimitReached || w.lost[1] != LostLimitReached {
		t.Fatalf("lost intents = %v, want two limit_reached", w.lost)
	}
	if w.loads != 1 {
		t.Fatalf("the gate was loaded %d times, want once", w.loads)
	}
	if _, err := s.CountLimitTap(ctx, full, uuid.New()); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("an unknown offer: %v", err)
	}
}
