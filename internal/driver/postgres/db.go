// Package postgres implements Pavilion's stores on PostgreSQL (pgx/v5): the ledger in cluster mode.
//
// One *DB implements every domain store (account.Store, brand.Store,
// show.Store, checkout.Store, checkout.Ledger). The schema lives in
// versioned SQL files under migrations/, embedded in the binary and applied
// with goose under a PostgreSQL advisory lock, so several nodes may start at
// once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the key of the session-level advisory lock held while
// migrating ("PAVM" in ASCII). It differs from goose's default key so that
// another application migrating with goose on the same server never waits
// on Pavilion, nor Pavilion on it.
const migrationLockID int64 = 0x5041564d // "PAVM"

// DB is the PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
}

var (
	_ account.Store   = (*DB)(nil)
	_ brand.Store     = (*DB)(nil)
	_ show.Store      = (*DB)(nil)
	_ checkout.Store  = (*DB)(nil)
	_ checkout.Ledger = (*DB)(nil)
	_ chat.Store      = (*DB)(nil)
)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, with pgxpool's pool_* parameters) and checks that it answers.
func Open(ctx context.Context, url string) (*DB, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Pool returns the connection pool, for packages that add their own queries.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// provider builds a goose provider over the pool. Closing the returned
// provider releases its database/sql handle but leaves the pool open.
func (db *DB) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// Poll for the lock every second, for up to five minutes: long enough for
	// another node to finish any migration Pavilion ships.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return p, nil
}

// Migrate applies every pending migration. Concurrent calls, from this
// process or from other nodes, serialise on an advisory lock; the ones that
// come second find nothing left to do.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.provider()
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	_, err = p.Up(ctx)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Version reports the latest migration applied to the database, 0 when none is.
func (db *DB) Version(ctx context.Context) (int64, error) {
	p, err := db.provider()
	if err != nil {
		return 0, fmt.Errorf("postgres: version: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: version: %w", err)
	}
	return v, nil
}

// violation says what a broken constraint means to a user.
type violation struct {
	code apperr.Code
	msg  string
}

// constraints maps the constraint names of the schema (see migrations/) to
// application errors. A constraint missing here falls back on its SQLSTATE
// class in storeErr.
var constraints = map[string]violation{
	"users_pkey":               {apperr.Conflict, "user already exists"},
	"users_email_key":          {apperr.Conflict, "email already registered"},
	"user_roles_user_fkey":     {apperr.NotFound, "user not found"},
	"user_roles_role_check":    {apperr.Invalid, "unknown role"},
	"credentials_pkey":         {apperr.Conflict, "credential already exists"},
	"credentials_user_fkey":    {apperr.NotFound, "user not found"},
	"credentials_kind_check":   {apperr.Invalid, "unknown credential kind"},
	"brands_pkey":              {apperr.Conflict, "brand already exists"},
	"brands_slug_key":          {apperr.Conflict, "brand slug already taken"},
	"brand_admins_brand_fkey":  {apperr.NotFound, "brand not found"},
	"brand_admins_user_fkey":   {apperr.NotFound, "user not found"},
	"shows_pkey":               {apperr.Conflict, "show already exists"},
	"shows_brand_fkey":         {apperr.NotFound, "brand not found"},
	"shows_kind_check":         {apperr.Invalid, "unknown show kind"},
	"shows_visibility_check":   {apperr.Invalid, "unknown show visibility"},
	"shows_state_check":        {apperr.Invalid, "unknown show state"},
	"shows_hold_seconds_check": {apperr.Invalid, "hold time cannot be negative"},
	"shows_time_check":         {apperr.Invalid, "a show cannot end before it starts"},
	"show_hosts_show_fkey":     {apperr.NotFound, "show not found"},
	"show_hosts_user_fkey":     {apperr.NotFound, "host not found"},
	"products_pkey":            {apperr.Conflict, "product already exists"},
	"products_brand_fkey":      {apperr.NotFound, "brand not found"},
	"skus_pkey":                {apperr.Conflict, "SKU already exists"},
	"skus_brand_code_key":      {apperr.Conflict, "SKU code already used by this brand"},
	"skus_product_fkey":        {apperr.NotFound, "product not found"},
	"skus_price_check":         {apperr.Invalid, "price cannot be negative"},
	"skus_currency_check":      {apperr.Invalid, "currency must be a three-letter ISO 4217 code"},
	"skus_stock_check":         {apperr.Conflict, "stock on hand cannot go below sold plus held units"},
	"offers_pkey":              {apperr.Conflict, "offer already exists"},
	"offers_show_fkey":         {apperr.NotFound, "show not found"},
	"offers_sku_fkey":          {apperr.NotFound, "SKU not found"},
	"offers_price_check":       {apperr.Invalid, "price cannot be negative"},
	"offers_currency_check":    {apperr.Invalid, "currency must be a three-letter ISO 4217 code"},
	"offers_counts_check":      {apperr.Invalid, "allocation and per-customer limit cannot be negative"},
	"offers_stock_check":       {apperr.Conflict, "sold plus held units cannot exceed the allocation"},
	"offers_drop_window_check": {apperr.Invalid, "a drop cannot close before it opens"},

	"reservations_pkey":           {apperr.Conflict, "reservation already exists"},
	"reservations_offer_fkey":     {apperr.NotFound, "offer not found"},
	"reservations_show_fkey":      {apperr.NotFound, "show not found"},
	"reservations_sku_fkey":       {apperr.NotFound, "SKU not found"},
	"reservations_user_fkey":      {apperr.NotFound, "user not found"},
	"reservations_quantity_check": {apperr.Invalid, "quantity must be positive"},
	"reservations_price_check":    {apperr.Invalid, "price cannot be negative"},
	"reservations_currency_check": {apperr.Invalid, "currency must be a three-letter ISO 4217 code"},
	"reservations_state_check":    {apperr.Invalid, "unknown reservation state"},
	"orders_pkey":                 {apperr.Conflict, "order already exists"},
	"orders_reservation_key":      {apperr.Conflict, "the reservation already has an order"},
	"orders_user_fkey":            {apperr.NotFound, "user not found"},
	"orders_reservation_fkey":     {apperr.NotFound, "reservation not found"},
	"orders_offer_fkey":           {apperr.NotFound, "offer not found"},
	"orders_show_fkey":            {apperr.NotFound, "show not found"},
	"orders_sku_fkey":             {apperr.NotFound, "SKU not found"},
	"orders_brand_fkey":           {apperr.NotFound, "brand not found"},
	"orders_quantity_check":       {apperr.Invalid, "quantity must be positive"},
	"orders_price_check":          {apperr.Invalid, "price cannot be negative"},
	"orders_currency_check":       {apperr.Invalid, "currency must be a three-letter ISO 4217 code"},
	"orders_state_check":          {apperr.Invalid, "unknown order state"},
	"idempotency_keys_user_fkey":  {apperr.NotFound, "user not found"},

	"show_bans_show_fkey":            {apperr.NotFound, "show not found"},
	"show_bans_user_fkey":            {apperr.NotFound, "user not found"},
	"chat_deletions_show_fkey":       {apperr.NotFound, "show not found"},
	"show_mutes_show_fkey":           {apperr.NotFound, "show not found"},
	"show_mutes_user_fkey":           {apperr.NotFound, "user not found"},
	"brand_blocked_words_brand_fkey": {apperr.NotFound, "brand not found"},

	"addresses_user_fkey":       {apperr.NotFound, "user not found"},
	"payment_methods_user_fkey": {apperr.NotFound, "user not found"},
	"buyer_privacy_user_fkey":   {apperr.NotFound, "user not found"},
	"brand_follows_brand_fkey":  {apperr.NotFound, "brand not found"},
	"brand_follows_user_fkey":   {apperr.NotFound, "user not found"},
	"coupons_code_key":          {apperr.Conflict, "this brand already has a coupon with this code"},
	"coupons_kind_check":        {apperr.Invalid, "kind must be percent or amount"},
	"coupons_uses_check":        {apperr.Gone, "this coupon has been used up"},
	"coupons_spent_check":       {apperr.Gone, "this coupon has been used up"},
}

// storeErr turns err into an *apperr.Error when it is one a user can act on
// (a duplicate, a missing reference, a broken invariant), and otherwise wraps
// it as an internal error of op.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if v, ok := constraints[pe.ConstraintName]; ok {
			return apperr.Wrap(v.code, err, v.msg)
		}
		switch pe.Code {
		case "23505": // unique_violation
			return apperr.Wrap(apperr.Conflict, err, "already exists")
		case "23503": // foreign_key_violation
			return apperr.Wrap(apperr.NotFound, err, "referenced record not found")
		case "23514": // check_violation
			return apperr.Wrap(apperr.Invalid, err, "invalid value")
		case "22003": // numeric_value_out_of_range
			return apperr.Wrap(apperr.Invalid, err, "number out of range")
		}
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// notFound maps pgx.ErrNoRows to NotFound "<thing> not found" and anything
// else through storeErr.
func notFound(op, thing string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Errorf(apperr.NotFound, "%s not found", thing)
	}
	return storeErr(op, err)
}
