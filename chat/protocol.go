package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

// The live-room protocol: JSON text frames with a "type". PROTOCOL.md
// describes it for client authors; this file is the one place it is decoded.

// MaxFrame bounds a client frame; a larger one closes the connection (1009).
const MaxFrame = 4096

// MaxChat bounds a chat message, in characters.
const MaxChat = 500

// Reactions are the emoji a viewer may send; anything else is refused, so the
// aggregated counts stay a small, fixed map.
var Reactions = []string{"heart", "fire", "clap", "wow", "laugh", "bag"}

// Client frame types.
const (
	TypeChat     = "chat"
	TypeReact    = "react"
	TypeTap      = "tap"
	TypeReserve  = "reserve"
	TypeRelease  = "release"
	TypeResume   = "resume"
	TypeModerate = "moderate"
	TypePin      = "pin"
	TypeDrop     = "drop"
	TypeEnd      = "end"
)

// Moderation actions.
const (
	ActDelete = "delete" // Seq: the chat message to remove
	ActMute   = "mute"   // UserID, Seconds
	ActUnmute = "unmute" // UserID
	ActBan    = "ban"    // UserID
	ActUnban  = "unban"  // UserID
	ActSlow   = "slow"   // Seconds between a viewer's messages; 0 turns it off
	ActWords  = "words"  // Words: the blocked-word list (replaces it)
)

// ClientFrame is any frame a client sends. Fields unused by a type must be absent.
type ClientFrame struct {
	Type string `json:"type"`
	// ID is the client's own request ID, echoed on the answer (reserve,
	// release, errors) and used as the reservation's idempotency key.
	ID            string    `json:"id,omitempty"`
	Text          string    `json:"text,omitempty"`
	Emoji         string    `json:"emoji,omitempty"`
	OfferID       uuid.UUID `json:"offer_id,omitzero"`
	Quantity      int       `json:"quantity,omitempty"`
	ReservationID uuid.UUID `json:"reservation_id,omitzero"`
	Epoch         string    `json:"epoch,omitempty"`
	After         uint64    `json:"after,omitempty"`
	Action        string    `json:"action,omitempty"`
	Seq           uint64    `json:"seq,omitempty"`
	UserID        uuid.UUID `json:"user_id,omitzero"`
	Seconds       int       `json:"seconds,omitempty"`
	Words         []string  `json:"words,omitempty"`
}

// FrameError is a frame the server refuses; the connection stays open and
// the client gets an error frame with Code and Message.
type FrameError struct {
	Code    string
	Message string
}

func (e *FrameError) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) *FrameError {
	return &FrameError{Code: "invalid", Message: fmt.Sprintf(format, args...)}
}

// Decode parses and checks one client frame. It never panics, whatever the
// bytes (a fuzz test holds it to that).
func Decode(data []byte) (*ClientFrame, error) {
	if len(data) > MaxFrame {
		return nil, &FrameError{Code: "too_large", Message: fmt.Sprintf("frames are at most %d bytes", MaxFrame)}
	}
	if !utf8.Valid(data) {
		return nil, invalid("frames are UTF-8 JSON objects")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f ClientFrame
	if err := dec.Decode(&f); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, invalid("malformed JSON")
		case errors.As(err, &typ):
			if typ.Field != "" {
				return nil, invalid("field %q has the wrong type", typ.Field)
			}
			return nil, invalid("a frame is a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		default:
			return nil, invalid("malformed frame")
		}
	}
	// One object, then nothing but JSON whitespace (dec.More would let a
	// stray "}" or "]" through).
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, invalid("one JSON object per frame")
	}
	if utf8.RuneCountInString(f.ID) > 64 {
		return nil, invalid("id is at most 64 characters")
	}
	return &f, f.check()
}

func (f *ClientFrame) check() error {
	switch f.Type {
	case TypeChat:
		f.Text = strings.TrimSpace(f.Text)
		if f.Text == "" {
			return invalid("a chat message needs text")
		}
		if utf8.RuneCountInString(f.Text) > MaxChat {
			return invalid("a chat message is at most %d characters", MaxChat)
		}
		// The platform's one rule for written text, as for names and addresses.
		if err := textcheck.Text("text", f.Text); err != nil {
			return invalid("%s", apperr.MessageOf(err))
		}
	case TypeReact:
		for _, r := range Reactions {
			if f.Emoji == r {
				return nil
			}
		}
		return invalid("emoji must be one of %s", strings.Join(Reactions, ", "))
	case TypeTap:
		if f.OfferID == uuid.Nil {
			return invalid("offer_id is required")
		}
	case TypeReserve:
		if f.OfferID == uuid.Nil {
			return invalid("offer_id is required")
		}
		if f.Quantity == 0 {
			f.Quantity = 1
		}
	case TypeRelease:
		if f.ReservationID == uuid.Nil {
			return invalid("reservation_id is required")
		}
	case TypeResume:
		if f.Epoch == "" {
			return invalid("resume needs the epoch and the last seq you saw")
		}
	case TypeModerate:
		return f.checkModerate()
	case TypePin:
		// A zero offer_id unpins.
	case TypeDrop:
		if f.OfferID == uuid.Nil || (f.Action != "open" && f.Action != "close") {
			return invalid("drop needs offer_id and action open (with seconds) or close")
		}
	case TypeEnd:
	case "":
		return invalid("type is required")
	default:
		return &FrameError{Code: "unknown_type", Message: fmt.Sprintf("unknown frame type %q", f.Type)}
	}
	return nil
}

func (f *ClientFrame) checkModerate() error {
	switch f.Action {
	case ActDelete:
		if f.Seq == 0 {
			return invalid("delete needs the message's seq")
		}
	case ActMute:
		if f.UserID == uuid.Nil || f.Seconds < 1 || f.Seconds > 7*24*3600 {
			return invalid("mute needs user_id and seconds from 1 to 604800")
		}
	case ActUnmute, ActBan, ActUnban:
		if f.UserID == uuid.Nil {
			return invalid("%s needs user_id", f.Action)
		}
	case ActSlow:
		if f.Seconds < 0 || f.Seconds > 600 {
			return invalid("slow mode is from 0 (off) to 600 seconds")
		}
	case ActWords:
		if len(f.Words) > 200 {
			return invalid("at most 200 blocked words")
		}
		for i, w := range f.Words {
			f.Words[i] = strings.ToLower(strings.TrimSpace(w))
			if f.Words[i] == "" || utf8.RuneCountInString(w) > 40 {
				return invalid("blocked words are 1 to 40 characters")
			}
			if err := textcheck.Line("words", f.Words[i]); err != nil {
				return invalid("%s", apperr.MessageOf(err))
			}
		}
	default:
		return invalid("action must be delete, mute, unmute, ban, unban, slow or words")
	}
	return nil
}

// Server → client frames. Sequenced ones (in a room's history, replayed on
// resume) carry "seq"; reactions, viewers and a client's own results do not.

// Author is who wrote a chat message.
type Author struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// roomEvent is the payload appended to the room's log, before its seq is
// known. Exactly the fields of its type are set.
type roomEvent struct {
	Type    string     `json:"type"`
	ID      string     `json:"id,omitempty"` // chat: message ID
	User    *Author    `json:"user,omitempty"`
	Text    string     `json:"text,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	Staff   bool       `json:"staff,omitempty"`   // chat: by the show's hosts or brand admins (never sampled out)
	Action  string     `json:"action,omitempty"`  // moderation
	Target  uint64     `json:"target,omitempty"`  // moderation delete: the message's seq
	Subject *uuid.UUID `json:"subject,omitempty"` // moderation: the user acted on
	Until   *time.Time `json:"until,omitempty"`   // mute
	Seconds int        `json:"seconds,omitempty"` // slow mode
	Words   []string   `json:"words,omitempty"`   // blocked words
	OfferID *uuid.UUID `json:"offer_id,omitempty"`
	Offer   *OfferView `json:"offer,omitempty"` // pin, stock, sold_out, drop: the whole offer as of its as_of
	Show    *ShowView  `json:"show,omitempty"`
	Avail   *int       `json:"available,omitempty"`
	SoldOut *bool      `json:"sold_out,omitempty"`
	State   string     `json:"state,omitempty"`
	Opens   *time.Time `json:"opens_at,omitempty"`  // drop
	Closes  *time.Time `json:"closes_at,omitempty"` // drop
	Now     *time.Time `json:"server_time,omitempty"`
	Buyer   string     `json:"buyer,omitempty"` // bought: "Mei L.", or absent for a buyer who keeps out of notices
	// Draw is a fair draw as published: the commitment while open; seed and
	// winners (no entry list) once drawn.
	Draw *checkout.DrawRecord `json:"draw,omitempty"`
	// Stage is the show's stage after a change (stage.go): the guest on
	// air and the layout; Change says what changed.
	Stage  *cohost.Stage `json:"stage,omitempty"`
	Change string        `json:"change,omitempty"`
}

// Sequenced event types.
const (
	EvChat       = "chat"
	EvModeration = "moderation"
	EvPin        = "pin"
	EvStock      = "stock"
	EvSoldOut    = "sold_out"
	EvShowState  = "show_state"
	EvDrop       = "drop"
	EvShow       = "show"
	EvDraw       = "draw"
	EvBought     = "bought"
	EvStage      = "stage"
)

// OfferView is an offer as viewers see it: price and live stock. Every
// event that carries one carries all of it, read from the ledger at AsOf,
// so the room and its clients keep one copy per offer and never merge an
// older copy over a newer one (events can be numbered in another order than
// their reads were made: two nodes, a pin read before a stock flush).
type OfferView struct {
	ID               uuid.UUID `json:"id"`
	SKUID            uuid.UUID `json:"sku_id"`
	PriceMinor       int64     `json:"price_minor"`
	Currency         string    `json:"currency"`
	Allocated        int       `json:"allocated"`
	Available        int       `json:"available"`
	PerCustomerLimit int       `json:"per_customer_limit"`
	// Sold is how many units of the offer were sold: the player's counter.
	Sold int `json:"sold"`
	// A flash drop sells only between DropOpensAt and DropClosesAt (server clock).
	Drop         bool       `json:"drop"`
	DropOpensAt  *time.Time `json:"drop_opens_at"`
	DropClosesAt *time.Time `json:"drop_closes_at"`
	// AsOf is when this state was read (server clock): of two copies of an
	// offer, the one with the later AsOf wins.
	AsOf time.Time `json:"as_of"`
}

// newer reports whether v should replace cur, the copy held so far.
func (v *OfferView) newer(cur *OfferView) bool {
	return cur == nil || !v.AsOf.Before(cur.AsOf)
}

// ShowView is a show as the room holds it and as welcomes and show events
// carry it: what viewers need, and what decides who may do what in the room.
type ShowView struct {
	ID         uuid.UUID   `json:"id"`
	BrandID    uuid.UUID   `json:"brand_id"`
	Title      string      `json:"title"`
	State      string      `json:"state"`
	Visibility string      `json:"visibility"`
	StartsAt   time.Time   `json:"starts_at"`
	EndsAt     time.Time   `json:"ends_at"`
	HostIDs    []uuid.UUID `json:"host_ids"`
	// WentLiveAt and EndedAt are when the show really went live (the first
	// time) and ended; absent until then.
	WentLiveAt *time.Time `json:"went_live_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	// UpdatedAt orders edits: a room keeps the latest.
	UpdatedAt time.Time `json:"updated_at"`
}

// withSeq writes {"seq":N, …payload…}: the payload is encoded once, when
// appended, and numbered by the bus; the number goes in front here.
func withSeq(seq uint64, payload []byte) []byte {
	if len(payload) < 2 || payload[0] != '{' {
		return payload
	}
	b := make([]byte, 0, len(payload)+24)
	b = append(b, `{"seq":`...)
	b = fmt.Appendf(b, "%d", seq)
	if payload[1] != '}' {
		b = append(b, ',')
	}
	return append(b, payload[1:]...)
}
