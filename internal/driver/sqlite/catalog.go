package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// CatalogStore keeps products, SKUs, stock and offers.
type CatalogStore struct{ *conn }

// CreateProduct inserts the product and its SKUs in one transaction, and
// sets each SKU's ProductID and BrandID to the product's. A missing brand is
// NotFound; a SKU code the brand already uses is a Conflict, and then
// nothing of the product is kept.
func (db CatalogStore) CreateProduct(ctx context.Context, p *checkout.Product) error {
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

// SetProductImages replaces a product's images.
func (db CatalogStore) SetProductImages(ctx context.Context, id uuid.UUID, images []string) error {
	j, err := jsonText(nonNil(images))
	if err != nil {
		return storeErr("set product images", err)
	}
	return storeErr("set product images", db.execOne(ctx, "product", `UPDATE products SET images = $1 WHERE id = $2`, j, id))
}

// ProductByID returns the product with its SKUs.
func (db CatalogStore) ProductByID(ctx context.Context, id uuid.UUID) (*checkout.Product, error) {
	var p *checkout.Product
	err := db.read(ctx, "product by id", func(tx *sql.Tx) error {
		var err error
		p, err = scan.Product(tx.QueryRowContext(ctx, `SELECT `+sqlstore.ProductCols+` FROM products WHERE id = $1`, id))
		if err != nil {
			return noRows(err, "product")
		}
		p.SKUs, err = queryAll(ctx, tx, scan.SKU,
			`SELECT `+sqlstore.SKUCols+` FROM skus WHERE product_id = $1 ORDER BY position`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ListProducts lists a brand's products with their SKUs, oldest first.
func (db CatalogStore) ListProducts(ctx context.Context, brandID uuid.UUID) ([]checkout.Product, error) {
	var products []checkout.Product
	err := db.read(ctx, "list products", func(tx *sql.Tx) error {
		var err error
		products, err = queryAll(ctx, tx, scan.Product,
			`SELECT `+sqlstore.ProductCols+` FROM products WHERE brand_id = $1 ORDER BY created_at, seq`, brandID)
		if err != nil {
			return err
		}
		skus, err := queryAll(ctx, tx, scan.SKU,
			`SELECT `+sqlstore.SKUCols+` FROM skus WHERE brand_id = $1 ORDER BY product_id, position`, brandID)
		if err != nil {
			return err
		}
		at := make(map[uuid.UUID]int, len(products))
		for i, p := range products {
			at[p.ID] = i
		}
		for _, s := range skus {
			if i, ok := at[s.ProductID]; ok {
				products[i].SKUs = append(products[i].SKUs, s)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return products, nil
}

// SKUByID returns the SKU with the given ID.
func (db CatalogStore) SKUByID(ctx context.Context, id uuid.UUID) (*checkout.SKU, error) {
	s, err := scan.SKU(db.r.QueryRowContext(ctx, `SELECT `+sqlstore.SKUCols+` FROM skus WHERE id = $1`, id))
	if err != nil {
		return nil, storeErr("sku by id", noRows(err, "SKU"))
	}
	return s, nil
}

// UpdateSKU applies p atomically and returns the SKU as stored. OnHand sets
// the stock and OnHandDelta adjusts it; given both, the delta applies to the
// new value. A change that would leave on hand below sold plus held units
// is a Conflict and changes nothing.
func (db CatalogStore) UpdateSKU(ctx context.Context, id uuid.UUID, p checkout.SKUPatch) (*checkout.SKU, error) {
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
func (db CatalogStore) CreateOffer(ctx context.Context, o *checkout.Offer) error {
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

// OfferByID returns the offer with the given ID.
func (db CatalogStore) OfferByID(ctx context.Context, id uuid.UUID) (*checkout.Offer, error) {
	o, err := scan.Offer(db.r.QueryRowContext(ctx, `SELECT `+sqlstore.OfferCols+` FROM offers WHERE id = $1`, id))
	if err != nil {
		return nil, storeErr("offer by id", noRows(err, "offer"))
	}
	return o, nil
}

// OffersByShow lists a show's offers, oldest first.
func (db CatalogStore) OffersByShow(ctx context.Context, showID uuid.UUID) ([]checkout.Offer, error) {
	offers, err := queryAll(ctx, db.r, scan.Offer,
		`SELECT `+sqlstore.OfferCols+` FROM offers WHERE show_id = $1 ORDER BY created_at, seq`, showID)
	return offers, storeErr("offers by show", err)
}

// OffersOnSale lists the SKU's offers in scheduled and live shows.
func (db CatalogStore) OffersOnSale(ctx context.Context, skuID uuid.UUID) ([]checkout.Offer, error) {
	offers, err := queryAll(ctx, db.r, scan.Offer,
		`SELECT `+sqlstore.OfferCols+` FROM offers WHERE sku_id = $1
		   AND show_id IN (SELECT id FROM shows WHERE state IN ('scheduled', 'live'))
		 ORDER BY created_at, seq`, skuID)
	return offers, storeErr("offers on sale", err)
}

// SetDropWindow makes the offer a drop open from opens to closes, and
// returns it as stored. A missing offer is NotFound; closes before opens is
// Invalid.
func (db CatalogStore) SetDropWindow(ctx context.Context, offerID uuid.UUID, opens, closes time.Time) (*checkout.Offer, error) {
	var o *checkout.Offer
	err := db.write(ctx, "set drop window", func(tx *sql.Tx) error {
		var err error
		o, err = scan.Offer(tx.QueryRowContext(ctx,
			`UPDATE offers SET is_drop = 1, drop_opens_at = $1, drop_closes_at = $2 WHERE id = $3 RETURNING `+sqlstore.OfferCols,
			micros(opens), micros(closes), offerID))
		return noRows(err, "offer")
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}
