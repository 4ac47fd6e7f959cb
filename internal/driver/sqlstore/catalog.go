package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// CatalogStore reads products, SKUs and offers, and sets what needs no
// guard. Creating a product or an offer and changing a SKU's stock are
// each driver's: PostgreSQL guards them in one conditional statement with
// typed parameters, SQLite reads and checks inside its one writer.
type CatalogStore struct{ db *Conn }

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
	k, err := s.db.Scan.SKU(s.db.Read.QueryRow(ctx, `SELECT `+SKUCols+` FROM skus WHERE id = $1`, id))
	if err != nil {
		return nil, s.db.Errs.Wrap("sku by id", NotFound(err, "SKU"))
	}
	return k, nil
}

// OfferByID returns the offer with the given ID.
func (s CatalogStore) OfferByID(ctx context.Context, id uuid.UUID) (*checkout.Offer, error) {
	o, err := s.db.Scan.Offer(s.db.Read.QueryRow(ctx, `SELECT `+OfferCols+` FROM offers WHERE id = $1`, id))
	if err != nil {
		return nil, s.db.Errs.Wrap("offer by id", NotFound(err, "offer"))
	}
	return o, nil
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
