package sqlstore

// The column lists that both dialects read alike. A scanner of the same name
// reads them in this order. (The show and user lists gather their hosts,
// days, roles and brands with each dialect's own aggregate, so the drivers
// keep those.)
const (
	BrandCols = `id, slug, name, story, logo_url, website, flagship, created_at, updated_at`

	ProductCols = `id, brand_id, name, description, images, created_at`
	SKUCols     = `id, product_id, brand_id, code, attributes, price_minor, currency, on_hand, sold, held, updated_at`
	OfferCols   = `id, show_id, sku_id, price_minor, currency, allocated, per_customer_limit, sold, held, created_at,
		is_drop, drop_opens_at, drop_closes_at`

	ReservationCols = `id, offer_id, show_id, sku_id, user_id, quantity, price_minor, currency, state,
		created_at, expires_at, updated_at`
	OrderCols = `id, user_id, reservation_id, offer_id, show_id, sku_id, brand_id, quantity,
		unit_price_minor, total_minor, currency, state, shipping, payment_ref, created_at, updated_at,
		coupon_id, coupon_code, discount_minor`
	IdempotencyCols = `user_id, op, key, request_hash, result, created_at`

	CouponCols = `id, brand_id, show_id, code, kind, percent_off, amount_off_minor, currency, min_basket_minor,
	per_customer, max_uses, budget_minor, uses, spent_minor, starts_at, ends_at, disabled, issued_to, created_by, created_at`

	DrawCols = `id, show_id, offer_id, units, state, seed, commitment, opens_at, closes_at, claimed_at, attempts,
		drawn_at, entries, created_by, giveaway, eligibility, prize_coupon_id`
	DrawEntryCols = `id, draw_id, user_id, seq, created_at, rank, reservation_id`

	RecordingCols = `id, show_id, path, media_type, started_at, ended_at, duration_ms, bytes, role`

	CredentialCols = `hash, id, user_id, kind, name, created_at, expires_at, last_used_at`

	AddressCols = `id, user_id, name, line1, line2, city, region, postal_code, country, phone, created_at, used_at`

	// LiveStates are the reservation states whose units count against the
	// customer's limit: held or bought.
	LiveStates = `('held', 'ordering', 'ordered')`
)
