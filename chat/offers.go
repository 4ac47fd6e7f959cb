package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// offerReader reads offers from the catalogue as rooms show them: with
// their SKU's stock and the time they were read.
type offerReader struct {
	catalog checkout.Store
}

// views reads a show's offers with their live availability.
func (or offerReader) views(ctx context.Context, showID uuid.UUID) (map[uuid.UUID]*OfferView, error) {
	asOf := time.Now().UTC()
	offers, err := or.catalog.OffersByShow(ctx, showID)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]*OfferView, len(offers))
	for _, o := range offers {
		v, err := or.view(ctx, &o, asOf)
		if err != nil {
			return nil, err
		}
		out[o.ID] = v
	}
	return out, nil
}

// view completes o, read from the catalogue no earlier than asOf, with
// its SKU's stock.
func (or offerReader) view(ctx context.Context, o *checkout.Offer, asOf time.Time) (*OfferView, error) {
	sku, err := or.catalog.SKUByID(ctx, o.SKUID)
	if err != nil {
		return nil, err
	}
	return &OfferView{ID: o.ID, SKUID: o.SKUID, PriceMinor: o.PriceMinor, Currency: o.Currency, Allocated: o.Allocated,
		Available: o.Free(sku), PerCustomerLimit: o.PerCustomerLimit, Sold: o.Sold,
		Drop: o.Drop, DropOpensAt: o.DropOpensAt, DropClosesAt: o.DropClosesAt, AsOf: asOf}, nil
}

// fresh reads an offer's whole state now.
func (or offerReader) fresh(ctx context.Context, id uuid.UUID) (*checkout.Offer, *OfferView, error) {
	asOf := time.Now().UTC()
	o, err := or.catalog.OfferByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := or.view(ctx, o, asOf)
	if err != nil {
		return nil, nil, err
	}
	return o, v, nil
}

// ofShow reads one offer of the show, or reports it is not the show's.
func (or offerReader) ofShow(ctx context.Context, showID, id uuid.UUID) (*OfferView, bool) {
	asOf := time.Now().UTC()
	o, err := or.catalog.OfferByID(ctx, id)
	if err != nil || o.ShowID != showID {
		return nil, false
	}
	v, err := or.view(ctx, o, asOf)
	if err != nil {
		return nil, false
	}
	return v, true
}
