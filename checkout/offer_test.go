package checkout

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// offerCatalog is a catalogue holding SKUs and recording the offers it is
// asked to store; the ledger's own checks are the drivers' (storetest).
type offerCatalog struct {
	Store
	skus    map[uuid.UUID]*SKU
	created []*Offer
}

func (c *offerCatalog) SKUByID(_ context.Context, id uuid.UUID) (*SKU, error) {
	if k, ok := c.skus[id]; ok {
		return k, nil
	}
	return nil, apperr.Errorf(apperr.NotFound, "SKU not found")
}

func (c *offerCatalog) CreateOffer(_ context.Context, o *Offer) error {
	c.created = append(c.created, o)
	return nil
}

type showsByID map[uuid.UUID]*show.Show

func (m showsByID) ShowByID(_ context.Context, id uuid.UUID) (*show.Show, error) {
	if sh, ok := m[id]; ok {
		return sh, nil
	}
	return nil, apperr.Errorf(apperr.NotFound, "show not found")
}

type stockHeard struct{ offers []uuid.UUID }

func (n *stockHeard) StockChanged(_, offerID uuid.UUID) { n.offers = append(n.offers, offerID) }
func (n *stockHeard) OrderChanged(*Order)               {}
func (n *stockHeard) DropChanged(*Offer)                {}

// TestAddOfferRules: every rule on a new offer, whoever calls the service
// (the HTTP API, the command line): who may, in which show, which SKU, and
// the numbers. A refused offer reaches neither the ledger nor the live room.
func TestAddOfferRules(t *testing.T) {
	ctx := context.Background()
	brandID, rivalID := uuid.New(), uuid.New()
	own := &SKU{ID: uuid.New(), BrandID: brandID, Currency: "EUR", OnHand: 10}
	rivals := &SKU{ID: uuid.New(), BrandID: rivalID, Currency: "EUR", OnHand: 10}
	shows := showsByID{}
	newShow := func(state show.State, vis show.Visibility) uuid.UUID {
		sh := &show.Show{ID: uuid.New(), BrandID: brandID, State: state, Visibility: vis, HostIDs: []uuid.UUID{}}
		shows[sh.ID] = sh
		return sh.ID
	}
	live, scheduled := newShow(show.Live, show.Public), newShow(show.Scheduled, show.Public)
	ended, cancelled := newShow(show.Ended, show.Public), newShow(show.Cancelled, show.Public)
	members := newShow(show.Scheduled, show.Members)
	admin := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{brandID}}
	rival := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{rivalID}}
	host := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleHost}}
	ok := func(showID uuid.UUID) NewOffer {
		return NewOffer{ShowID: showID, SKUID: own.ID, PriceMinor: 900, Allocated: 5, PerCustomerLimit: 1}
	}
	with := func(r NewOffer, change func(*NewOffer)) NewOffer { change(&r); return r }

	for _, tc := range []struct {
		name string
		u    *account.User
		req  NewOffer
		want apperr.Code
	}{
		{"anonymous", nil, ok(live), apperr.Unauthorized},
		{"missing show", admin, ok(uuid.New()), apperr.NotFound},
		{"another brand's admin", rival, ok(live), apperr.Forbidden},
		{"a host", host, ok(live), apperr.Forbidden},
		// Who may not see a members-only show must not learn it exists.
		{"another brand's admin, members-only show", rival, ok(members), apperr.NotFound},
		{"ended show", admin, ok(ended), apperr.Conflict},
		{"cancelled show", admin, ok(cancelled), apperr.Conflict},
		{"another brand's SKU", admin, with(ok(live), func(r *NewOffer) { r.SKUID = rivals.ID }), apperr.Invalid},
		{"missing SKU", admin, with(ok(live), func(r *NewOffer) { r.SKUID = uuid.New() }), apperr.Invalid},
		{"negative price", admin, with(ok(live), func(r *NewOffer) { r.PriceMinor = -1 }), apperr.Invalid}, // 0 is a giveaway prize
		{"nothing allocated", admin, with(ok(live), func(r *NewOffer) { r.Allocated = 0 }), apperr.Invalid},
		{"negative limit", admin, with(ok(live), func(r *NewOffer) { r.PerCustomerLimit = -1 }), apperr.Invalid},
		{"more than on hand", admin, with(ok(live), func(r *NewOffer) { r.Allocated = own.OnHand + 1 }), apperr.Conflict},
	} {
		cat := &offerCatalog{skus: map[uuid.UUID]*SKU{own.ID: own, rivals.ID: rivals}}
		heard := &stockHeard{}
		svc := &Service{Catalog: cat, Shows: shows, Notifier: heard}
		o, err := svc.AddOffer(ctx, tc.u, tc.req)
		if apperr.CodeOf(err) != tc.want || o != nil {
			t.Errorf("%s: AddOffer = %v, %v; want code %s", tc.name, o, err, tc.want)
		}
		if len(cat.created) != 0 || len(heard.offers) != 0 {
			t.Errorf("%s: a refused offer reached the ledger (%d) or the room (%d)", tc.name, len(cat.created), len(heard.offers))
		}
	}
	if err := error(ErrOtherBrandSKU); apperr.MessageOf(err) != "sku_id must be one of this brand's SKUs" {
		t.Fatalf("ErrOtherBrandSKU says %q", apperr.MessageOf(err))
	}

	for _, showID := range []uuid.UUID{live, scheduled, members} {
		cat := &offerCatalog{skus: map[uuid.UUID]*SKU{own.ID: own}}
		heard := &stockHeard{}
		svc := &Service{Catalog: cat, Shows: shows, Notifier: heard}
		o, err := svc.AddOffer(ctx, admin, with(ok(showID), func(r *NewOffer) { r.Drop = true }))
		if err != nil {
			t.Fatalf("show %s: %v", shows[showID].State, err)
		}
		if o.Currency != own.Currency || o.ShowID != showID || !o.Drop || o.ID == uuid.Nil || o.CreatedAt.IsZero() {
			t.Fatalf("offer = %+v", o)
		}
		if len(cat.created) != 1 || cat.created[0] != o || len(heard.offers) != 1 || heard.offers[0] != o.ID {
			t.Fatalf("stored %d offers, the room heard of %v", len(cat.created), heard.offers)
		}
	}
}
