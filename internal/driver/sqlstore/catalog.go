package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// CatalogStore reads products, SKUs and offers, and sets what needs no
// guard; CatalogWriter creates products and offers and changes stock.
type CatalogStore struct{ db *Conn }

// CatalogWriter creates products and offers and changes SKUs, each behind
// the guard its rule needs.
type CatalogWriter struct{ db *Conn }

// attributesJSON encodes SKU attributes for Dialect.JSONParam; nil is {}.
func attributesJSON(a map[string]string) (string, error) {
	if a == nil {
		return "{}", nil
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// CreateProduct inserts p and its SKUs in one transaction, and sets each
// SKU's ProductID and BrandID to the product's. A missing brand is
// NotFound; a SKU code the brand already uses is a Conflict, and then
// nothing of the product is kept.
func (s CatalogWriter) CreateProduct(ctx context.Context, p *checkout.Product) error {
	d := s.db.Dialect
	images := p.Images
	if images == nil {
		images = []string{}
	}
	attrs := make([]string, len(p.SKUs))
	for i := range p.SKUs {
		p.SKUs[i].ProductID, p.SKUs[i].BrandID = p.ID, p.BrandID
		var err error
		if attrs[i], err = attributesJSON(p.SKUs[i].Attributes); err != nil {
			return s.db.Errs.Wrap("create product", err)
		}
	}
	err := s.db.Tx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO products (`+ProductCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, p.BrandID, p.Name, p.Description, d.List(images), d.Time(p.CreatedAt)); err != nil {
			return s.db.Errs.Ref(err, "brand")
		}
		for i, k := range p.SKUs {
			_, err := tx.Exec(ctx,
				`INSERT INTO skus (position, `+SKUCols+`) VALUES ($1, $2, $3, $4, $5, `+d.JSONParam(`$6`)+`, $7, $8, $9, $10, $11, $12)`,
				i, k.ID, k.ProductID, k.BrandID, k.Code, attrs[i], k.PriceMinor, k.Currency,
				k.OnHand, k.Sold, k.Held, d.Time(k.UpdatedAt))
			if name, _, ok := s.db.Errs.Broken(err); ok && name == "skus_brand_code_key" {
				return apperr.Wrap(apperr.Conflict, err, fmt.Sprintf("SKU code %q already used by this brand", k.Code))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return s.db.Errs.Wrap("create product", err)
}

// UpdateSKU applies p in one conditional UPDATE, so concurrent changes never
// lose each other and never take OnHand below Sold+Held (a Conflict), and
// returns the SKU as stored. OnHand sets the stock, OnHandDelta adjusts it;
// given both, the delta applies to the new value. Attributes, when not nil,
// replace the stored ones.
func (s CatalogWriter) UpdateSKU(ctx context.Context, id uuid.UUID, p checkout.SKUPatch) (*checkout.SKU, error) {
	d := s.db.Dialect
	var attrs *string
	if p.Attributes != nil {
		a, err := attributesJSON(p.Attributes)
		if err != nil {
			return nil, s.db.Errs.Wrap("update sku", err)
		}
		attrs = &a
	}
	delta := 0
	if p.OnHandDelta != nil {
		delta = *p.OnHandDelta
	}
	var sku *checkout.SKU
	err := s.db.Tx(ctx, func(tx Querier) error {
		// The new stock is computed in bigint, so that an absurd value
		// fails the bound rather than wrapping.
		var err error
		sku, err = s.db.Scan.SKU(tx.QueryRow(ctx,
			`UPDATE skus SET
			     price_minor = coalesce(CAST($2 AS bigint), price_minor),
			     on_hand     = coalesce(CAST($3 AS bigint), on_hand) + CAST($4 AS bigint),
			     attributes  = coalesce(`+d.JSONParam(`$5`)+`, attributes),
			     updated_at  = $6
			 WHERE id = $1
			   AND coalesce(CAST($3 AS bigint), on_hand) + CAST($4 AS bigint) >= sold + held
			   AND coalesce(CAST($3 AS bigint), on_hand) + CAST($4 AS bigint) <= CAST($7 AS bigint)
			 RETURNING `+SKUCols,
			id, p.PriceMinor, p.OnHand, delta, attrs, d.Time(time.Now()), checkout.MaxOnHand))
		if !IsNoRows(err) {
			return err
		}
		// Nothing changed: tell a missing SKU from a refused stock change.
		var onHand, committed int
		if err := tx.QueryRow(ctx, `SELECT on_hand, sold + held FROM skus WHERE id = $1`, id).Scan(&onHand, &committed); err != nil {
			return NotFound(err, "SKU")
		}
		if p.OnHand != nil {
			onHand = *p.OnHand
		}
		if onHand+delta < 0 {
			return apperr.Errorf(apperr.Conflict, "stock on hand cannot be negative")
		}
		if onHand+delta > checkout.MaxOnHand {
			return apperr.Errorf(apperr.Invalid, "stock on hand would pass %d units", checkout.MaxOnHand)
		}
		return apperr.Errorf(apperr.Conflict, "stock on hand cannot go below sold plus held units (%d)", committed)
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("update sku", err)
	}
	return sku, nil
}

// CreateOffer inserts o. The SKU and the show must exist (NotFound) and be
// the same brand's (Invalid), and the SKU must hold at least the allocated
// units (Conflict). The SKU's row is locked while it is checked (SQLite's
// write transaction holds the file), so its stock cannot drop under the
// allocation before the offer is in.
func (s CatalogWriter) CreateOffer(ctx context.Context, o *checkout.Offer) error {
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		var (
			onHand              int
			skuBrand, showBrand uuid.UUID
		)
		if err := tx.QueryRow(ctx, `SELECT on_hand, brand_id FROM skus WHERE id = $1`+d.Lock, o.SKUID).Scan(&onHand, &skuBrand); err != nil {
			return NotFound(err, "SKU")
		}
		if err := tx.QueryRow(ctx, `SELECT brand_id FROM shows WHERE id = $1`, o.ShowID).Scan(&showBrand); err != nil {
			return NotFound(err, "show")
		}
		if skuBrand != showBrand {
			return checkout.ErrOtherBrandSKU
		}
		if o.Allocated > onHand {
			return apperr.Errorf(apperr.Conflict, "%s (%d)", checkout.ErrOverAllocated.Message, onHand)
		}
		_, err := tx.Exec(ctx, `INSERT INTO offers (`+OfferCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			o.ID, o.ShowID, o.SKUID, o.PriceMinor, o.Currency, o.Allocated, o.PerCustomerLimit,
			o.Sold, o.Held, d.Time(o.CreatedAt), o.Drop, d.NullTime(o.DropOpensAt), d.NullTime(o.DropClosesAt))
		return s.db.Errs.Ref(err, "show")
	})
	return s.db.Errs.Wrap("create offer", err)
}

// SetProductImages replaces a product's images.
func (s CatalogStore) SetProductImages(ctx context.Context, id uuid.UUID, images []string) error {
	if images == nil {
		images = []string{}
	}
	return s.db.Errs.Wrap("set product images", s.db.ExecOne(ctx, "product",
		`UPDATE products SET images = $1 WHERE id = $2`, s.db.Dialect.List(images), id))
}

// ProductByID returns the product with its SKUs, from one snapshot.
func (s CatalogStore) ProductByID(ctx context.Context, id uuid.UUID) (*checkout.Product, error) {
	var p *checkout.Product
	err := s.db.Snapshot(ctx, func(tx Querier) error {
		var err error
		p, err = s.db.Scan.Product(tx.QueryRow(ctx, `SELECT `+ProductCols+` FROM products WHERE id = $1`, id))
		if err != nil {
			return NotFound(err, "product")
		}
		p.SKUs, err = QueryAll(ctx, tx, s.db.Scan.SKU,
			`SELECT `+SKUCols+` FROM skus WHERE product_id = $1 ORDER BY position, id`, id)
		return err
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("product by id", err)
	}
	return p, nil
}

// ListProducts lists the brand's products with their SKUs, oldest first,
// from one snapshot.
func (s CatalogStore) ListProducts(ctx context.Context, brandID uuid.UUID) ([]checkout.Product, error) {
	var products []checkout.Product
	err := s.db.Snapshot(ctx, func(tx Querier) error {
		var err error
		products, err = QueryAll(ctx, tx, s.db.Scan.Product,
			`SELECT `+ProductCols+` FROM products WHERE brand_id = $1 ORDER BY created_at, seq`, brandID)
		if err != nil || len(products) == 0 {
			return err
		}
		skus, err := QueryAll(ctx, tx, s.db.Scan.SKU,
			`SELECT `+SKUCols+` FROM skus WHERE brand_id = $1 ORDER BY product_id, position, id`, brandID)
		if err != nil {
			return err
		}
		at := make(map[uuid.UUID]int, len(products))
		for i, p := range products {
			at[p.ID] = i
		}
		for _, k := range skus {
			if i, ok := at[k.ProductID]; ok {
				products[i].SKUs = append(products[i].SKUs, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("list products", err)
	}
	return products, nil
}

// SKUByID returns the SKU with its stock.
func (s CatalogStore) SKUByID(ctx context.Context, id uuid.UUID) (*checkout.SKU, error) {
	return readOne(ctx, s.db, "sku by id", "SKU", s.db.Scan.SKU,
		`SELECT `+SKUCols+` FROM skus WHERE id = $1`, id)
}

// OfferByID returns the offer with the given ID.
func (s CatalogStore) OfferByID(ctx context.Context, id uuid.UUID) (*checkout.Offer, error) {
	return readOne(ctx, s.db, "offer by id", "offer", s.db.Scan.Offer,
		`SELECT `+OfferCols+` FROM offers WHERE id = $1`, id)
}

// OffersByShow lists the show's offers, oldest first.
func (s CatalogStore) OffersByShow(ctx context.Context, showID uuid.UUID) ([]checkout.Offer, error) {
	offers, err := QueryAll(ctx, s.db.Read, s.db.Scan.Offer,
		`SELECT `+OfferCols+` FROM offers WHERE show_id = $1 ORDER BY created_at, seq`, showID)
	return offers, s.db.Errs.Wrap("offers by show", err)
}

// OffersOnSale lists the SKU's offers in scheduled and live shows.
func (s CatalogStore) OffersOnSale(ctx context.Context, skuID uuid.UUID) ([]checkout.Offer, error) {
	offers, err := QueryAll(ctx, s.db.Read, s.db.Scan.Offer,
		`SELECT `+OfferCols+` FROM offers WHERE sku_id = $1
		   AND show_id IN (SELECT id FROM shows WHERE state IN ('scheduled', 'live'))
		 ORDER BY created_at, seq`, skuID)
	return offers, s.db.Errs.Wrap("offers on sale", err)
}

// SetDropWindow makes the offer a drop open from opens to closes, and
// returns it as stored. A missing offer is NotFound; closes before opens is
// Invalid.
func (s CatalogStore) SetDropWindow(ctx context.Context, offerID uuid.UUID, opens, closes time.Time) (*checkout.Offer, error) {
	var o *checkout.Offer
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		o, err = s.db.Scan.Offer(tx.QueryRow(ctx,
			`UPDATE offers SET is_drop = true, drop_opens_at = $1, drop_closes_at = $2 WHERE id = $3 RETURNING `+OfferCols,
			d.Time(opens), d.Time(closes), offerID))
		return NotFound(err, "offer")
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("set drop window", err)
	}
	return o, nil
}
