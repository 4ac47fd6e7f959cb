package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// CatalogWriter creates products and offers and changes SKUs, each behind
// its guard; the catalog's reads are sqlstore.CatalogStore.
type CatalogWriter struct{ *conn }

// CreateProduct inserts the product and its SKUs in one transaction, and
// sets each SKU's ProductID and BrandID to the product's. A missing brand is
// NotFound; a SKU code the brand already uses is a Conflict, and then
// nothing of the product is kept.
func (db CatalogWriter) CreateProduct(ctx context.Context, p *checkout.Product) error {
	images, err := jsonText(nonNil(p.Images))
	if err != nil {
		return storeErr("create product", err)
	}
	return db.write(ctx, "create product", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO products (`+sqlstore.ProductCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, p.BrandID, p.Name, p.Description, images, micros(p.CreatedAt)); err != nil {
			return refErr(err, "brand")
		}
		for i := range p.SKUs {
			s := &p.SKUs[i]
			s.ProductID, s.BrandID = p.ID, p.BrandID
			attrs := s.Attributes
			if attrs == nil {
				attrs = map[string]string{}
			}
			attrsJSON, err := jsonText(attrs)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx,
				`INSERT INTO skus (`+sqlstore.SKUCols+`, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				s.ID, s.ProductID, s.BrandID, s.Code, attrsJSON, s.PriceMinor, s.Currency,
				s.OnHand, s.Sold, s.Held, micros(s.UpdatedAt), i)
			if constraintOf(err) == "skus.brand_id, skus.code" {
				return apperr.Wrap(apperr.Conflict, err, fmt.Sprintf("SKU code %q already used by this brand", s.Code))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// nonNil returns s, or an empty slice when s is nil, so that it encodes as
// a JSON array.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// UpdateSKU applies p atomically and returns the SKU as stored. OnHand sets
// the stock and OnHandDelta adjusts it; given both, the delta applies to the
// new value. A change that would leave on hand below sold plus held units
// is a Conflict and changes nothing.
func (db CatalogWriter) UpdateSKU(ctx context.Context, id uuid.UUID, p checkout.SKUPatch) (*checkout.SKU, error) {
	var attrs *string
	if p.Attributes != nil {
		s, err := jsonText(p.Attributes)
		if err != nil {
			return nil, storeErr("update sku", err)
		}
		attrs = &s
	}
	delta := 0
	if p.OnHandDelta != nil {
		delta = *p.OnHandDelta
	}
	var sku *checkout.SKU
	err := db.write(ctx, "update sku", func(tx *sql.Tx) error {
		// One conditional statement: the guard and the change see the same row.
		var err error
		sku, err = scan.SKU(tx.QueryRowContext(ctx,
			`UPDATE skus SET
				price_minor = coalesce(@price, price_minor),
				on_hand = coalesce(@on_hand, on_hand) + @delta,
				attributes = coalesce(@attributes, attributes),
				updated_at = @now
			 WHERE id = @id AND coalesce(@on_hand, on_hand) + @delta >= sold + held
			   AND coalesce(@on_hand, on_hand) + @delta <= @max
			 RETURNING `+sqlstore.SKUCols,
			sql.Named("max", checkout.MaxOnHand),
			sql.Named("price", p.PriceMinor), sql.Named("on_hand", p.OnHand), sql.Named("delta", delta),
			sql.Named("attributes", attrs), sql.Named("now", micros(now())), sql.Named("id", id)))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Nothing changed: tell a missing SKU from a refused stock change.
		var onHand, committed int
		err = tx.QueryRowContext(ctx, `SELECT on_hand, sold + held FROM skus WHERE id = $1`, id).Scan(&onHand, &committed)
		if err != nil {
			return noRows(err, "SKU")
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
		return nil, err
	}
	return sku, nil
}

// CreateOffer inserts o. A missing SKU or show is NotFound; an allocation
// over the SKU's stock on hand is a Conflict.
func (db CatalogWriter) CreateOffer(ctx context.Context, o *checkout.Offer) error {
	return db.write(ctx, "create offer", func(tx *sql.Tx) error {
		var (
			onHand              int
			skuBrand, showBrand uuid.UUID
		)
		if err := tx.QueryRowContext(ctx, `SELECT on_hand, brand_id FROM skus WHERE id = $1`, o.SKUID).Scan(&onHand, &skuBrand); err != nil {
			return noRows(err, "SKU")
		}
		if err := tx.QueryRowContext(ctx, `SELECT brand_id FROM shows WHERE id = $1`, o.ShowID).Scan(&showBrand); err != nil {
			return noRows(err, "show")
		}
		if skuBrand != showBrand {
			return checkout.ErrOtherBrandSKU
		}
		if o.Allocated > onHand {
			return apperr.Errorf(apperr.Conflict, "%s (%d)", checkout.ErrOverAllocated.Message, onHand)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO offers (`+sqlstore.OfferCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			o.ID, o.ShowID, o.SKUID, o.PriceMinor, o.Currency, o.Allocated, o.PerCustomerLimit,
			o.Sold, o.Held, micros(o.CreatedAt), o.Drop, nullMicros(o.DropOpensAt), nullMicros(o.DropClosesAt))
		return refErr(err, "show")
	})
}
