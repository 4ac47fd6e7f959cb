package checkout

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

// Upper bounds on the numbers a brand writes. Far above any real catalogue,
// they keep every sum the ledger makes (stock plus a delta, price times a
// quantity) inside the integers both stores hold: PostgreSQL keeps stock in
// a 32-bit integer, and SQLite turns an overflowing sum into a float.
const (
	// MaxOnHand bounds a SKU's stock, a stock change and an offer's allocation.
	MaxOnHand = 1_000_000_000
	// MaxPriceMinor bounds a price: ten billion in a currency of cents.
	MaxPriceMinor = 1_000_000_000_000
)

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	skuCodeRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// ValidateProduct checks a new product and its SKUs.
func ValidateProduct(p *Product) error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || utf8.RuneCountInString(p.Name) > 200 {
		return apperr.Errorf(apperr.Invalid, "name must be 1 to 200 characters")
	}
	if err := textcheck.Line("name", p.Name); err != nil {
		return err
	}
	if utf8.RuneCountInString(p.Description) > 10000 {
		return apperr.Errorf(apperr.Invalid, "description must be at most 10000 characters")
	}
	if err := textcheck.Text("description", p.Description); err != nil {
		return err
	}
	if err := ValidateImages(p.Images); err != nil {
		return err
	}
	if len(p.SKUs) == 0 || len(p.SKUs) > 100 {
		return apperr.Errorf(apperr.Invalid, "a product needs 1 to 100 SKUs")
	}
	seen := map[string]bool{}
	for i := range p.SKUs {
		if err := validateSKU(&p.SKUs[i]); err != nil {
			return err
		}
		if seen[p.SKUs[i].Code] {
			return apperr.Errorf(apperr.Invalid, "SKU code %q appears twice", p.SKUs[i].Code)
		}
		seen[p.SKUs[i].Code] = true
	}
	return nil
}

func validateSKU(s *SKU) error {
	if !skuCodeRE.MatchString(s.Code) {
		return apperr.Errorf(apperr.Invalid, "SKU code %q must be 1 to 64 letters, digits, dots, dashes or underscores", s.Code)
	}
	if !currencyRE.MatchString(s.Currency) {
		return apperr.Errorf(apperr.Invalid, "currency %q must be an ISO 4217 code such as EUR or CNY", s.Currency)
	}
	if err := checkPrice(s.PriceMinor); err != nil {
		return err
	}
	if s.OnHand < 0 || s.OnHand > MaxOnHand {
		return apperr.Errorf(apperr.Invalid, "on_hand must be from 0 to %d", MaxOnHand)
	}
	return ValidateAttributes(s.Attributes)
}

// ValidateAttributes bounds SKU attributes (size, colour…).
func ValidateAttributes(a map[string]string) error {
	if len(a) > 20 {
		return apperr.Errorf(apperr.Invalid, "a SKU has at most 20 attributes")
	}
	for k, v := range a {
		if k == "" || utf8.RuneCountInString(k) > 40 || utf8.RuneCountInString(v) > 200 {
			return apperr.Errorf(apperr.Invalid, "attribute names are 1 to 40 characters and values at most 200")
		}
		if err := textcheck.Line("attributes", k+v); err != nil {
			return err
		}
	}
	return nil
}

// ValidatePatch checks a SKU change before it reaches the store.
func ValidatePatch(p *SKUPatch) error {
	if p.PriceMinor == nil && p.OnHand == nil && p.OnHandDelta == nil && p.Attributes == nil {
		return apperr.Errorf(apperr.Invalid, "nothing to change: give price_minor, on_hand, on_hand_delta or attributes")
	}
	if p.OnHand != nil && p.OnHandDelta != nil {
		return apperr.Errorf(apperr.Invalid, "give on_hand or on_hand_delta, not both")
	}
	if p.PriceMinor != nil {
		if err := checkPrice(*p.PriceMinor); err != nil {
			return err
		}
	}
	if p.OnHand != nil && (*p.OnHand < 0 || *p.OnHand > MaxOnHand) {
		return apperr.Errorf(apperr.Invalid, "on_hand must be from 0 to %d", MaxOnHand)
	}
	// The store refuses a sum past MaxOnHand; bounding the delta keeps the
	// sum itself from overflowing.
	if p.OnHandDelta != nil && (*p.OnHandDelta < -MaxOnHand || *p.OnHandDelta > MaxOnHand) {
		return apperr.Errorf(apperr.Invalid, "on_hand_delta must be from -%d to %d", MaxOnHand, MaxOnHand)
	}
	if p.Attributes != nil {
		return ValidateAttributes(p.Attributes)
	}
	return nil
}

// ValidateOffer checks what a brand admin sets on a new offer: its show
// price, the units allocated to the show and the per-customer limit.
func ValidateOffer(o *Offer) error {
	// Price 0 is a giveaway's prize: it is never sold, only won (Reserve
	// refuses it; a giveaway's draw holds it for its winners).
	if o.PriceMinor != 0 {
		if err := checkPrice(o.PriceMinor); err != nil {
			return err
		}
	}
	if o.Allocated < 1 || o.Allocated > MaxOnHand {
		return apperr.Errorf(apperr.Invalid, "allocated must be from 1 to %d", MaxOnHand)
	}
	if o.PerCustomerLimit < 0 || o.PerCustomerLimit > MaxQuantity {
		return apperr.Errorf(apperr.Invalid, "per_customer_limit must be from 0 (none) to %d", MaxQuantity)
	}
	return nil
}

func checkPrice(p int64) error {
	if p <= 0 || p > MaxPriceMinor {
		return apperr.Errorf(apperr.Invalid, "price_minor must be a whole number of minor units from 1 to %d", int64(MaxPriceMinor))
	}
	return nil
}

// ValidateImages checks a product's pictures: at most 20, each an uploaded
// image (/media/…), another path on this server or an http(s) URL.
func ValidateImages(images []string) error {
	if len(images) > 20 {
		return apperr.Errorf(apperr.Invalid, "a product has at most 20 images")
	}
	for _, img := range images {
		if img == "" {
			return apperr.Errorf(apperr.Invalid, "images must be absolute http or https URLs or paths on this server")
		}
		if err := brand.CheckURL("images", img); err != nil {
			return err
		}
	}
	return nil
}
