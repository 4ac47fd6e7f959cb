package sqlstore

import (
	"errors"
	"fmt"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Kind is the kind of a broken constraint, for one the Constraints table
// does not name.
type Kind int

// The kinds of broken constraint a driver tells apart.
const (
	Unique Kind = iota + 1
	ForeignKey
	Check
	OutOfRange
)

// byKind is what a broken constraint of each kind means when Constraints
// does not name it.
var byKind = map[Kind]Violation{
	Unique:     {apperr.Conflict, "already exists"},
	ForeignKey: {apperr.NotFound, "referenced record not found"},
	Check:      {apperr.Invalid, "invalid value"},
	OutOfRange: {apperr.Invalid, "number out of range"},
}

// Errors turns the errors of a driver's database into application errors.
type Errors struct {
	// Driver names the driver in internal errors ("sqlite", "postgres").
	Driver string
	// Broken reports whether err is a broken constraint, with the schema's
	// name for it ("" when the database names none) and its kind (0 when
	// it is none of the kinds).
	Broken func(err error) (name string, kind Kind, ok bool)
}

// Wrap turns err into an *apperr.Error when it is one a user can act on (a
// duplicate, a missing reference, a broken invariant), and otherwise wraps
// it as an internal error of op. An *apperr.Error passes through unchanged.
func (e Errors) Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if name, kind, ok := e.Broken(err); ok {
		if v, ok := Constraints[name]; ok {
			return apperr.Wrap(v.Code, err, v.Msg)
		}
		if v, ok := byKind[kind]; ok {
			return apperr.Wrap(v.Code, err, v.Msg)
		}
	}
	return fmt.Errorf("%s: %s: %w", e.Driver, op, err)
}

// Violation says what a broken constraint means to a user.
type Violation struct {
	Code apperr.Code
	Msg  string
}

// Constraints maps the constraint names of the schema (see the drivers'
// migrations/, which name them alike) to application errors. A driver whose
// database reports a constraint by another name (SQLite names a UNIQUE
// constraint by its columns) translates it first; a constraint missing here
// falls back on its kind in the driver.
var Constraints = map[string]Violation{
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
	"offers_drop_check":        {apperr.Invalid, "invalid drop flag"},
	"offers_drop_window_check": {apperr.Invalid, "a drop cannot close before it opens"},

	"show_guests_active_key": {apperr.Conflict, "this show already has a guest (invited or on air); remove them first"},
	"show_guests_show_fkey":  {apperr.NotFound, "show not found"},
	"show_stages_show_fkey":  {apperr.NotFound, "show not found"},
	"show_stages_guest_fkey": {apperr.NotFound, "guest not found"},

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
