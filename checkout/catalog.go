package checkout

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Product is an item a brand sells, with one SKU per variant.
type Product struct {
	ID          uuid.UUID `json:"id"`
	BrandID     uuid.UUID `json:"brand_id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Images      []string  `json:"images"`
	SKUs        []SKU     `json:"skus"`
	CreatedAt   time.Time `json:"created_at"`
}

// SKU is one sellable variant of a product (a size, a colour) with its stock.
// Invariant, kept by the ledger: Sold + Held <= OnHand.
type SKU struct {
	ID         uuid.UUID         `json:"id"`
	ProductID  uuid.UUID         `json:"product_id"`
	BrandID    uuid.UUID         `json:"brand_id"`
	Code       string            `json:"code"` // the brand's own SKU code, unique per brand
	Attributes map[string]string `json:"attributes"`
	// PriceMinor is the list price in minor units of Currency (cents, fen).
	PriceMinor int64     `json:"price_minor"`
	Currency   string    `json:"currency"` // ISO 4217
	OnHand     int       `json:"on_hand"`
	Sold       int       `json:"sold"`
	Held       int       `json:"held"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Available is what can still be reserved.
func (s *SKU) Available() int { return s.OnHand - s.Sold - s.Held }

// Offer is a SKU featured in a show at a show price, with units allocated to
// the show and a per-customer limit.
// Invariant, kept by the ledger: Sold + Held <= Allocated.
type Offer struct {
	ID               uuid.UUID `json:"id"`
	ShowID           uuid.UUID `json:"show_id"`
	SKUID            uuid.UUID `json:"sku_id"`
	PriceMinor       int64     `json:"price_minor"`
	Currency         string    `json:"currency"`
	Allocated        int       `json:"allocated"`
	PerCustomerLimit int       `json:"per_customer_limit"` // 0: no limit
	Sold             int       `json:"sold"`
	Held             int       `json:"held"`
	// Drop makes the offer a flash drop: it sells only while its window is
	// open, and not at all before the host first opens it.
	Drop         bool       `json:"drop"`
	DropOpensAt  *time.Time `json:"drop_opens_at"`
	DropClosesAt *time.Time `json:"drop_closes_at"`
	CreatedAt    time.Time  `json:"created_at"`
}

// DropOpen reports whether a drop offer's window is open at now; an offer
// that is not a drop is always open.
func (o *Offer) DropOpen(now time.Time) bool {
	if !o.Drop {
		return true
	}
	return o.DropOpensAt != nil && o.DropClosesAt != nil && !now.Before(*o.DropOpensAt) && now.Before(*o.DropClosesAt)
}

// Free is how many units of the offer can still be reserved: what its
// allocation leaves, bounded by what its SKU (which other shows' offers may
// share) still has.
func (o *Offer) Free(sku *SKU) int {
	return max(0, min(o.Allocated-o.Sold-o.Held, sku.Available()))
}

// ErrOtherBrandSKU refuses an offer of a SKU that is not the show's brand's.
var ErrOtherBrandSKU = &apperr.Error{Code: apperr.Invalid, Message: "sku_id must be one of this brand's SKUs"}

// ErrOverAllocated refuses an offer that allocates more units than its SKU
// has on hand. Service.AddOffer says how many there are; a Store answers it
// when the stock fell under the allocation in the meantime.
var ErrOverAllocated = &apperr.Error{Code: apperr.Conflict, Message: "allocation exceeds stock on hand"}

// SKUPatch changes a SKU; nil fields stay as they are.
type SKUPatch struct {
	PriceMinor *int64 `json:"price_minor"`
	OnHand     *int   `json:"on_hand"`
	// OnHandDelta adjusts stock relative to the stored value (a delivery, a recount).
	OnHandDelta *int              `json:"on_hand_delta"`
	Attributes  map[string]string `json:"attributes"`
}

// Store persists the catalogue and, as checkout grows, the ledger.
// A missing row is NotFound; a duplicate SKU code within a brand is a Conflict;
// a stock change that would leave OnHand below Sold+Held is a Conflict.
type Store interface {
	// CreateProduct inserts the product and its SKUs in one transaction.
	CreateProduct(ctx context.Context, p *Product) error
	ProductByID(ctx context.Context, id uuid.UUID) (*Product, error)
	// SetProductImages replaces a product's images (a missing product is NotFound).
	SetProductImages(ctx context.Context, id uuid.UUID, images []string) error
	// ListProducts lists a brand's products with their SKUs, oldest first.
	ListProducts(ctx context.Context, brandID uuid.UUID) ([]Product, error)
	SKUByID(ctx context.Context, id uuid.UUID) (*SKU, error)
	// UpdateSKU applies p atomically and returns the SKU as stored.
	UpdateSKU(ctx context.Context, id uuid.UUID, p SKUPatch) (*SKU, error)

	// CreateOffer inserts an offer. A SKU of another brand than the show's is
	// ErrOtherBrandSKU (Invalid); an allocation over the SKU's OnHand is
	// ErrOverAllocated (Conflict). Allocations of one SKU across several shows may add up to more
	// than OnHand (the shows run at different times); the ledger still never
	// sells more than OnHand.
	CreateOffer(ctx context.Context, o *Offer) error
	OfferByID(ctx context.Context, id uuid.UUID) (*Offer, error)
	// OffersByShow lists a show's offers, oldest first.
	OffersByShow(ctx context.Context, showID uuid.UUID) ([]Offer, error)
	// OffersOnSale lists the offers of a SKU in shows that are scheduled or
	// live: those whose units left move when the SKU's stock does.
	OffersOnSale(ctx context.Context, skuID uuid.UUID) ([]Offer, error)
	// SetDropWindow makes the offer a drop (Drop = true) open from opens to
	// closes, and returns it as stored. NotFound for a missing offer.
	SetDropWindow(ctx context.Context, offerID uuid.UUID, opens, closes time.Time) (*Offer, error)
}
