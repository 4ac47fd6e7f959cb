package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// CatalogWriter creates products and offers and changes SKUs, each behind
// its guard; the catalog's reads are sqlstore.CatalogStore.
type CatalogWriter struct{ *conn }

// attributesJSON encodes SKU attributes for a jsonb column; nil is {}.
func attributesJSON(a map[string]string) (string, error) {
	if a == nil {
		return "{}", nil
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// CreateProduct inserts p and its SKUs in one transaction: on any failure,
// such as a SKU code the brand already uses (Conflict), nothing is kept.
// Each SKU gets the product's ID and brand.
func (db CatalogWriter) CreateProduct(ctx context.Context, p *checkout.Product) error {
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

// UpdateSKU applies p in one conditional UPDATE, so concurrent changes never
// lose each other and never take OnHand below Sold+Held (a Conflict). OnHand
// sets the stock, OnHandDelta adjusts it; given both, the delta applies to
// the new value. Attributes, when not nil, replace the stored ones.
func (db CatalogWriter) UpdateSKU(ctx context.Context, id uuid.UUID, p checkout.SKUPatch) (*checkout.SKU, error) {
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
func (db CatalogWriter) CreateOffer(ctx context.Context, o *checkout.Offer) error {
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
