package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// CatalogStore keeps products, SKUs, stock and offers.
type CatalogStore struct{ *conn }

// attributesJSON encodes SKU attributes for a jsonb column; nil is {}.
func attributesJSON(a map[string]string) (string, error) {
	if a == nil {
		return "{}", nil
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// SetProductImages replaces a product's images.
func (db CatalogStore) SetProductImages(ctx context.Context, id uuid.UUID, images []string) error {
	if images == nil {
		images = []string{}
	}
	tag, err := db.pool.Exec(ctx, `UPDATE products SET images = $2 WHERE id = $1`, id, images)
	if err != nil {
		return storeErr("set product images", err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "product not found")
	}
	return nil
}

// CreateProduct inserts p and its SKUs in one transaction: on any failure,
// such as a SKU code the brand already uses (Conflict), nothing is kept.
// Each SKU gets the product's ID and brand.
func (db CatalogStore) CreateProduct(ctx context.Context, p *checkout.Product) error {
	images := p.Images
	if images == nil {
		images = []string{}
	}
	attrs := make([]string, len(p.SKUs))
	for i := range p.SKUs {
		p.SKUs[i].ProductID, p.SKUs[i].BrandID = p.ID, p.BrandID
		var err error
		if attrs[i], err = attributesJSON(p.SKUs[i].Attributes); err != nil {
			return storeErr("create product", err)
		}
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO products (`+sqlstore.ProductCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			p.ID, p.BrandID, p.Name, p.Description, images, p.CreatedAt); err != nil {
			return err
		}
		for i, s := range p.SKUs {
			if _, err := tx.Exec(ctx,
				`INSERT INTO skus (position, `+sqlstore.SKUCols+`) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12)`,
				i, s.ID, s.ProductID, s.BrandID, s.Code, attrs[i], s.PriceMinor, s.Currency,
				s.OnHand, s.Sold, s.Held, s.UpdatedAt); err != nil {
				return err
			}
		}
		return nil
	})
	return storeErr("create product", err)
}

// skusOf loads the SKUs of the given products, in order, into them.
func (db CatalogStore) skusOf(ctx context.Context, q string, arg any, products []*checkout.Product) error {
	byID := make(map[uuid.UUID]*checkout.Product, len(products))
	for _, p := range products {
		byID[p.ID] = p
	}
	rows, err := db.pool.Query(ctx, q, arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scan.SKU(rows)
		if err != nil {
			return err
		}
		if p := byID[s.ProductID]; p != nil {
			p.SKUs = append(p.SKUs, *s)
		}
	}
	return rows.Err()
}

// ProductByID returns the product with its SKUs.
func (db CatalogStore) ProductByID(ctx context.Context, id uuid.UUID) (*checkout.Product, error) {
	p, err := scan.Product(db.pool.QueryRow(ctx, `SELECT `+sqlstore.ProductCols+` FROM products WHERE id = $1`, id))
	if err != nil {
		return nil, notFound("product by id", "product", err)
	}
	err = db.skusOf(ctx, `SELECT `+sqlstore.SKUCols+` FROM skus WHERE product_id = $1 ORDER BY position, id`, id,
		[]*checkout.Product{p})
	if err != nil {
		return nil, storeErr("product by id", err)
	}
	return p, nil
}

// ListProducts lists the brand's products with their SKUs, oldest first.
func (db CatalogStore) ListProducts(ctx context.Context, brandID uuid.UUID) ([]checkout.Product, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+sqlstore.ProductCols+` FROM products WHERE brand_id = $1 ORDER BY created_at, seq`, brandID)
	if err != nil {
		return nil, storeErr("list products", err)
	}
	var products []*checkout.Product
	for rows.Next() {
		p, err := scan.Product(rows)
		if err != nil {
			rows.Close()
			return nil, storeErr("list products", err)
		}
		products = append(products, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, storeErr("list products", err)
	}
	out := make([]checkout.Product, 0, len(products))
	if len(products) == 0 {
		return out, nil
	}
	err = db.skusOf(ctx, `SELECT `+sqlstore.SKUCols+` FROM skus WHERE brand_id = $1 ORDER BY product_id, position, id`, brandID, products)
	if err != nil {
		return nil, storeErr("list products", err)
	}
	for _, p := range products {
		out = append(out, *p)
	}
	return out, nil
}

// SKUByID returns the SKU with its stock.
func (db CatalogStore) SKUByID(ctx context.Context, id uuid.UUID) (*checkout.SKU, error) {
	s, err := scan.SKU(db.pool.QueryRow(ctx, `SELECT `+sqlstore.SKUCols+` FROM skus WHERE id = $1`, id))
	if err != nil {
		return nil, notFound("sku by id", "SKU", err)
	}
	return s, nil
}

// UpdateSKU applies p in one conditional UPDATE, so concurrent changes never
// lose each other and never take OnHand below Sold+Held (a Conflict). OnHand
// sets the stock, OnHandDelta adjusts it; given both, the delta applies to
// the new value. Attributes, when not nil, replace the stored ones.
func (db CatalogStore) UpdateSKU(ctx context.Context, id uuid.UUID, p checkout.SKUPatch) (*checkout.SKU, error) {
	var onHand, delta *int64
	if p.OnHand != nil {
		v := int64(*p.OnHand)
		onHand = &v
	}
	if p.OnHandDelta != nil {
		v := int64(*p.OnHandDelta)
		delta = &v
	}
	var attrs *string
	if p.Attributes != nil {
		a, err := attributesJSON(p.Attributes)
		if err != nil {
			return nil, storeErr("update sku", err)
		}
		attrs = &a
	}
	// The new stock is computed in bigint, so that an absurd value fails as
	// out of range (Invalid) rather than wrapping.
	s, err := scan.SKU(db.pool.QueryRow(ctx,
		`UPDATE skus SET
		     price_minor = COALESCE($2::bigint, price_minor),
		     on_hand     = COALESCE($3::bigint, on_hand) + COALESCE($4::bigint, 0),
		     attributes  = COALESCE($5::jsonb, attributes),
		     updated_at  = now()
		 WHERE id = $1
		   AND COALESCE($3::bigint, on_hand) + COALESCE($4::bigint, 0) >= sold + held
		   AND COALESCE($3::bigint, on_hand) + COALESCE($4::bigint, 0) <= $6::bigint
		 RETURNING `+sqlstore.SKUCols,
		id, p.PriceMinor, onHand, delta, attrs, checkout.MaxOnHand))
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, storeErr("update sku", err)
	}
	// No row changed: the SKU is missing, the change would oversell, or it
	// would pass the bound on stock.
	var over bool
	err = db.pool.QueryRow(ctx, `SELECT COALESCE($2::bigint, on_hand) + COALESCE($3::bigint, 0) > $4::bigint FROM skus WHERE id = $1`,
		id, onHand, delta, checkout.MaxOnHand).Scan(&over)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "SKU not found")
	}
	if err != nil {
		return nil, storeErr("update sku", err)
	}
	if over {
		return nil, apperr.Errorf(apperr.Invalid, "stock on hand would pass %d units", checkout.MaxOnHand)
	}
	return nil, apperr.Errorf(apperr.Conflict, "stock on hand cannot go below sold plus held units")
}

// CreateOffer inserts o. The SKU and the show must exist (NotFound) and be
// the same brand's (Invalid), and the SKU must hold at least the allocated
// units (Conflict).
func (db CatalogStore) CreateOffer(ctx context.Context, o *checkout.Offer) error {
	tag, err := db.pool.Exec(ctx,
		`INSERT INTO offers (`+sqlstore.OfferCols+`)
		 SELECT $1::uuid, $2::uuid, k.id, $4::bigint, $5::text, $6::integer, $7::integer, $8::integer, $9::integer, $10::timestamptz,
		        $11::boolean, $12::timestamptz, $13::timestamptz
		 FROM skus k JOIN shows s ON s.id = $2 AND s.brand_id = k.brand_id
		 WHERE k.id = $3 AND k.on_hand >= $6::integer`,
		o.ID, o.ShowID, o.SKUID, o.PriceMinor, o.Currency, o.Allocated, o.PerCustomerLimit, o.Sold, o.Held, o.CreatedAt,
		o.Drop, o.DropOpensAt, o.DropClosesAt)
	if err != nil {
		return storeErr("create offer", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var skuBrand, showBrand *uuid.UUID
	if err := db.pool.QueryRow(ctx, `SELECT (SELECT brand_id FROM skus WHERE id = $1), (SELECT brand_id FROM shows WHERE id = $2)`,
		o.SKUID, o.ShowID).Scan(&skuBrand, &showBrand); err != nil {
		return storeErr("create offer", err)
	}
	switch {
	case skuBrand == nil:
		return apperr.Errorf(apperr.NotFound, "SKU not found")
	case showBrand == nil:
		return apperr.Errorf(apperr.NotFound, "show not found")
	case *skuBrand != *showBrand:
		return checkout.ErrOtherBrandSKU
	}
	return checkout.ErrOverAllocated
}

// OfferByID returns the offer with the given ID.
func (db CatalogStore) OfferByID(ctx context.Context, id uuid.UUID) (*checkout.Offer, error) {
	o, err := scan.Offer(db.pool.QueryRow(ctx, `SELECT `+sqlstore.OfferCols+` FROM offers WHERE id = $1`, id))
	if err != nil {
		return nil, notFound("offer by id", "offer", err)
	}
	return o, nil
}

// OffersByShow lists the show's offers, oldest first.
func (db CatalogStore) OffersByShow(ctx context.Context, showID uuid.UUID) ([]checkout.Offer, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+sqlstore.OfferCols+` FROM offers WHERE show_id = $1 ORDER BY created_at, seq`, showID)
	offers, err := collect(rows, err, scan.Offer)
	if err != nil {
		return nil, storeErr("offers by show", err)
	}
	return offers, nil
}

// OffersOnSale lists the SKU's offers in scheduled and live shows.
func (db CatalogStore) OffersOnSale(ctx context.Context, skuID uuid.UUID) ([]checkout.Offer, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+sqlstore.OfferCols+` FROM offers WHERE sku_id = $1
		   AND show_id IN (SELECT id FROM shows WHERE state IN ('scheduled', 'live'))
		 ORDER BY created_at, seq`, skuID)
	offers, err := collect(rows, err, scan.Offer)
	if err != nil {
		return nil, storeErr("offers on sale", err)
	}
	return offers, nil
}

// SetDropWindow makes the offer a drop open from opens to closes, and
// returns it as stored. A missing offer is NotFound; closes before opens is
// Invalid.
func (db CatalogStore) SetDropWindow(ctx context.Context, offerID uuid.UUID, opens, closes time.Time) (*checkout.Offer, error) {
	o, err := scan.Offer(db.pool.QueryRow(ctx,
		`UPDATE offers SET is_drop = true, drop_opens_at = $2, drop_closes_at = $3 WHERE id = $1 RETURNING `+sqlstore.OfferCols,
		offerID, opens, closes))
	if err != nil {
		return nil, notFound("set drop window", "offer", err)
	}
	return o, nil
}
