package chat

import (
	"context"
	"strings"
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

// queueBought keeps a paid order for the next tick's notices.
func (h *Hub) queueBought(o *checkout.Order) {
	if o.State != checkout.Paid {
		return
	}
	h.stockMu.Lock()
	if len(h.bought) < maxBoughtPerTick {
		cp := *o
		h.bought = append(h.bought, &cp)
	}
	h.stockMu.Unlock()
}

// flushBought announces the queued orders in their show's room: who bought
// (a first name and an initial, or nobody for a buyer who opted out) and
// the offer's whole state, its sold count included.
func (h *Hub) flushBought(ctx context.Context) {
	h.stockMu.Lock()
	pending := h.bought
	h.bought = nil
	h.stockMu.Unlock()
	for _, o := range pending {
		_, v, err := h.freshOffer(ctx, o.OfferID)
		if err != nil {
			h.log().Warn("reading an offer for a purchase notice", "offer", o.OfferID, "err", err)
			continue
		}
		offerID := o.OfferID
		ev := &roomEvent{Type: EvBought, OfferID: &offerID, Offer: v, Buyer: h.buyerName(ctx, o.UserID)}
		if err := h.append(ctx, o.ShowID, ev); err != nil {
			h.log().Warn("announcing a purchase", "offer", o.OfferID, "err", err)
		}
	}
}

// buyerName is how a notice names the buyer: "" when they opted out, when
// their choice cannot be read (privacy fails closed) or without a Privacy.
func (h *Hub) buyerName(ctx context.Context, userID uuid.UUID) string {
	if h.Privacy == nil || h.Users == nil {
		return ""
	}
	hide, err := h.Privacy.HidesPurchases(ctx, userID)
	if err != nil || hide {
		return ""
	}
	u, err := h.Users.UserByID(ctx, userID)
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
