package sqlstore

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/wallet"
)

// Scanner reads the rows of the column lists into domain values. Its fields
// are where the dialects differ: each returns the scan destination for a
// value of that kind, and a time comes out in UTC.
type Scanner struct {
	// Time is the destination of a NOT NULL timestamp.
	Time func(t *time.Time) any
	// NullTime is the destination of a nullable timestamp: nil for NULL.
	NullTime func(t **time.Time) any
	// JSON is the destination of a JSON document (a map, a struct).
	JSON func(v any) any
	// List is the destination of a list column or aggregate (a slice).
	List func(v any) any
}

// nullID is a nullable UUID as read: nil for NULL.
func nullID(n uuid.NullUUID) *uuid.UUID {
	if !n.Valid {
		return nil
	}
	return &n.UUID
}

// Brand reads BrandCols.
func (s Scanner) Brand(r Row) (*brand.Brand, error) {
	var b brand.Brand
	if err := r.Scan(&b.ID, &b.Slug, &b.Name, &b.Story, &b.LogoURL, &b.Website, &b.Flagship,
		s.Time(&b.CreatedAt), s.Time(&b.UpdatedAt)); err != nil {
		return nil, err
	}
	return &b, nil
}

// Product reads ProductCols; its SKUs are left empty.
func (s Scanner) Product(r Row) (*checkout.Product, error) {
	var p checkout.Product
	if err := r.Scan(&p.ID, &p.BrandID, &p.Name, &p.Description, s.List(&p.Images), s.Time(&p.CreatedAt)); err != nil {
		return nil, err
	}
	if p.Images == nil {
		p.Images = []string{}
	}
	p.SKUs = []checkout.SKU{}
	return &p, nil
}

// SKU reads SKUCols.
func (s Scanner) SKU(r Row) (*checkout.SKU, error) {
	var k checkout.SKU
	if err := r.Scan(&k.ID, &k.ProductID, &k.BrandID, &k.Code, s.JSON(&k.Attributes), &k.PriceMinor, &k.Currency,
		&k.OnHand, &k.Sold, &k.Held, s.Time(&k.UpdatedAt)); err != nil {
		return nil, err
	}
	if k.Attributes == nil {
		k.Attributes = map[string]string{}
	}
	return &k, nil
}

// Offer reads OfferCols.
func (s Scanner) Offer(r Row) (*checkout.Offer, error) {
	var o checkout.Offer
	if err := r.Scan(&o.ID, &o.ShowID, &o.SKUID, &o.PriceMinor, &o.Currency, &o.Allocated, &o.PerCustomerLimit,
		&o.Sold, &o.Held, s.Time(&o.CreatedAt), &o.Drop, s.NullTime(&o.DropOpensAt), s.NullTime(&o.DropClosesAt)); err != nil {
		return nil, err
	}
	return &o, nil
}

// reservation is the destination list of ReservationCols in v.
func (s Scanner) reservation(v *checkout.Reservation) []any {
	return []any{&v.ID, &v.OfferID, &v.ShowID, &v.SKUID, &v.UserID, &v.Quantity, &v.PriceMinor, &v.Currency,
		&v.State, s.Time(&v.CreatedAt), s.Time(&v.ExpiresAt), s.Time(&v.UpdatedAt)}
}

// Reservation reads ReservationCols.
func (s Scanner) Reservation(r Row) (*checkout.Reservation, error) {
	var v checkout.Reservation
	if err := r.Scan(s.reservation(&v)...); err != nil {
		return nil, err
	}
	return &v, nil
}

// Expired reads ReservationCols and whether payment was ever submitted for
// the hold.
func (s Scanner) Expired(r Row) (*checkout.Reservation, error) {
	var v checkout.Reservation
	if err := r.Scan(append(s.reservation(&v), &v.Checkout)...); err != nil {
		return nil, err
	}
	return &v, nil
}

// Order reads OrderCols.
func (s Scanner) Order(r Row) (*checkout.Order, error) {
	var o checkout.Order
	var coupon uuid.NullUUID
	if err := r.Scan(&o.ID, &o.UserID, &o.ReservationID, &o.OfferID, &o.ShowID, &o.SKUID, &o.BrandID, &o.Quantity,
		&o.UnitPriceMinor, &o.TotalMinor, &o.Currency, &o.State, s.JSON(&o.Shipping), &o.PaymentRef,
		s.Time(&o.CreatedAt), s.Time(&o.UpdatedAt), &coupon, &o.CouponCode, &o.DiscountMinor); err != nil {
		return nil, err
	}
	o.CouponID = nullID(coupon)
	return &o, nil
}

// Idempotency reads IdempotencyCols.
func (s Scanner) Idempotency(r Row) (*checkout.Idempotency, error) {
	var v checkout.Idempotency
	if err := r.Scan(&v.UserID, &v.Op, &v.Key, &v.RequestHash, &v.Result, s.Time(&v.CreatedAt)); err != nil {
		return nil, err
	}
	return &v, nil
}

// Coupon reads CouponCols.
func (s Scanner) Coupon(r Row) (*checkout.Coupon, error) {
	var c checkout.Coupon
	var kind string
	var showID, issued uuid.NullUUID
	if err := r.Scan(&c.ID, &c.BrandID, &showID, &c.Code, &kind, &c.PercentOff, &c.AmountOffMinor, &c.Currency,
		&c.MinBasketMinor, &c.PerCustomer, &c.MaxUses, &c.BudgetMinor, &c.Uses, &c.SpentMinor, s.Time(&c.StartsAt),
		s.NullTime(&c.EndsAt), &c.Disabled, &issued, &c.CreatedBy, s.Time(&c.CreatedAt)); err != nil {
		return nil, err
	}
	c.Kind = checkout.CouponKind(kind)
	c.ShowID, c.IssuedTo = nullID(showID), nullID(issued)
	return &c, nil
}

// Draw reads DrawCols.
func (s Scanner) Draw(r Row) (*checkout.Draw, error) {
	var d checkout.Draw
	var state, eligibility string
	var prize uuid.NullUUID
	if err := r.Scan(&d.ID, &d.ShowID, &d.OfferID, &d.Units, &state, &d.Seed, &d.Commitment, s.Time(&d.OpensAt),
		s.Time(&d.ClosesAt), s.NullTime(&d.ClaimedAt), &d.Attempts, s.NullTime(&d.DrawnAt), &d.Entries, &d.CreatedBy,
		&d.Giveaway, &eligibility, &prize); err != nil {
		return nil, err
	}
	d.State, d.Eligibility = checkout.DrawState(state), checkout.Eligibility(eligibility)
	d.PrizeCouponID = nullID(prize)
	return &d, nil
}

// DrawEntry reads DrawEntryCols.
func (s Scanner) DrawEntry(r Row) (*checkout.DrawEntry, error) {
	var e checkout.DrawEntry
	var res uuid.NullUUID
	if err := r.Scan(&e.ID, &e.DrawID, &e.UserID, &e.Seq, s.Time(&e.CreatedAt), &e.Rank, &res); err != nil {
		return nil, err
	}
	e.ReservationID = nullID(res)
	return &e, nil
}

// Recording reads RecordingCols.
func (s Scanner) Recording(r Row) (*replay.Recording, error) {
	var rec replay.Recording
	if err := r.Scan(&rec.ID, &rec.ShowID, &rec.Path, &rec.MediaType, s.Time(&rec.StartedAt), s.NullTime(&rec.EndedAt),
		&rec.DurationMS, &rec.Bytes, &rec.Role); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Show reads a driver's show columns: those of the shows table (ending
// with went_live_at and ended_at), then the list of host IDs in order and the
// list of Pavilion days.
func (s Scanner) Show(r Row) (*show.Show, error) {
	var sh show.Show
	var kind, visibility, state string
	if err := r.Scan(&sh.ID, &sh.BrandID, &sh.Title, &sh.Description, &kind, &visibility, &state,
		s.Time(&sh.StartsAt), s.Time(&sh.EndsAt), &sh.TimeZone, &sh.HoldSeconds, &sh.CoverURL,
		s.Time(&sh.CreatedAt), s.Time(&sh.UpdatedAt), s.NullTime(&sh.WentLiveAt), s.NullTime(&sh.EndedAt),
		s.List(&sh.HostIDs), s.List(&sh.Days)); err != nil {
		return nil, err
	}
	sh.Kind, sh.Visibility, sh.State = show.Kind(kind), show.Visibility(visibility), show.State(state)
	if sh.HostIDs == nil {
		sh.HostIDs = []uuid.UUID{}
	}
	if len(sh.Days) == 0 {
		sh.Days = nil
	}
	return &sh, nil
}

// User reads a driver's user columns (those of the users table, then the
// list of roles and the list of administered brand IDs), then extra.
func (s Scanner) User(r Row, extra ...any) (*account.User, error) {
	var u account.User
	var roles []string
	dest := append([]any{&u.ID, &u.Email, &u.DisplayName, &u.AvatarURL, s.Time(&u.CreatedAt),
		s.List(&roles), s.List(&u.BrandIDs)}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	u.Roles = make([]account.Role, 0, len(roles))
	for _, r := range roles {
		u.Roles = append(u.Roles, account.Role(r))
	}
	// Roles in the order of increasing power, as account.Roles lists them.
	slices.SortFunc(u.Roles, func(a, b account.Role) int {
		return slices.Index(account.Roles, a) - slices.Index(account.Roles, b)
	})
	if u.BrandIDs == nil {
		u.BrandIDs = []uuid.UUID{}
	}
	return &u, nil
}

// Credential reads CredentialCols.
func (s Scanner) Credential(r Row) (*account.Credential, error) {
	var c account.Credential
	var kind string
	if err := r.Scan(&c.Hash, &c.ID, &c.UserID, &kind, &c.Name, s.Time(&c.CreatedAt), s.Time(&c.ExpiresAt),
		s.NullTime(&c.LastUsedAt)); err != nil {
		return nil, err
	}
	c.Kind = account.CredentialKind(kind)
	return &c, nil
}

// Address reads AddressCols.
func (s Scanner) Address(r Row) (*wallet.Address, error) {
	var a wallet.Address
	sh := &a.Shipping
	if err := r.Scan(&a.ID, &a.UserID, &sh.Name, &sh.Line1, &sh.Line2, &sh.City, &sh.Region, &sh.PostalCode,
		&sh.Country, &sh.Phone, s.Time(&a.CreatedAt), s.Time(&a.UsedAt)); err != nil {
		return nil, err
	}
	return &a, nil
}
