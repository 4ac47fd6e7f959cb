package chat

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// Privacy is what the hub needs to know of a buyer's choices.
type Privacy interface {
	// HidesPurchases reports whether the user keeps out of "just bought" notices.
	HidesPurchases(ctx context.Context, userID uuid.UUID) (bool, error)
}

// maxBoughtPerTick bounds the notices a node announces per tick; a stampede
// of orders past it is announced as far as the bound goes (the sold
// counters travel with every notice and every stock event).
const maxBoughtPerTick = 64

// boughtNotices queues paid orders and announces them at the next tick as
// "just bought" notices in their show's room.
type boughtNotices struct {
	offers  offerReader
	events  publisher
	privacy Privacy // nil: no buyer is named
	users   Users
	log     *slog.Logger

	mu     sync.Mutex
	orders []*checkout.Order
}

// queue keeps a paid order for the next tick's notices.
func (b *boughtNotices) queue(o *checkout.Order) {
	if o.State != checkout.Paid {
		return
	}
	b.mu.Lock()
	if len(b.orders) < maxBoughtPerTick {
		cp := *o
		b.orders = append(b.orders, &cp)
	}
	b.mu.Unlock()
}

// flush announces the queued orders in their show's room: who bought
// (a first name and an initial, or nobody for a buyer who opted out) and
// the offer's whole state, its sold count included.
func (b *boughtNotices) flush(ctx context.Context) {
	b.mu.Lock()
	pending := b.orders
	b.orders = nil
	b.mu.Unlock()
	for _, o := range pending {
		_, v, err := b.offers.fresh(ctx, o.OfferID)
		if err != nil {
			b.log.Warn("reading an offer for a purchase notice", "offer", o.OfferID, "err", err)
			continue
		}
		offerID := o.OfferID
		ev := &roomEvent{Type: EvBought, OfferID: &offerID, Offer: v, Buyer: b.buyerName(ctx, o.UserID)}
		if err := b.events.append(ctx, o.ShowID, ev); err != nil {
			b.log.Warn("announcing a purchase", "offer", o.OfferID, "err", err)
		}
	}
}

// buyerName is how a notice names the buyer: "" when they opted out, when
// their choice cannot be read (privacy fails closed) or without a Privacy.
func (b *boughtNotices) buyerName(ctx context.Context, userID uuid.UUID) string {
	if b.privacy == nil || b.users == nil {
		return ""
	}
	hide, err := b.privacy.HidesPurchases(ctx, userID)
	if err != nil || hide {
		return ""
	}
	u, err := b.users.UserByID(ctx, userID)
	if err != nil {
		return ""
	}
	return ShortName(u.DisplayName)
}

// ShortName is a display name cut to its first word and the initial of its
// last: "Mei Lin Chen" → "Mei C.", "Mei" → "Mei". An e-mail address or an
// empty name gives "".
func ShortName(name string) string {
	words := strings.Fields(name)
	if len(words) == 0 || strings.Contains(name, "@") {
		return ""
	}
	first := words[0]
	if utf8.RuneCountInString(first) > 20 {
		first = string([]rune(first)[:20])
	}
	if len(words) == 1 {
		return first
	}
	r, _ := utf8.DecodeRuneInString(words[len(words)-1])
	if !unicode.IsLetter(r) {
		return first
	}
	return first + " " + string(unicode.ToUpper(r)) + "."
}
