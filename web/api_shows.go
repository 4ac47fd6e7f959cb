package web

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// showOut is a show as the API presents it, with its offers.
type showOut struct {
	*show.Show
	Offers []checkout.Offer `json:"offers"`
	// Hosts name the show's hosts for the player's top bar; only GET
	// /api/shows/{id} fills it in.
	Hosts []hostOut `json:"hosts,omitempty"`
}

// hostOut is what a show's page shows of a host: the display name only.
type hostOut struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	AvatarURL string    `json:"avatar_url"`
}

// listShows is discovery: every show a caller may see, filtered by brand and
// state, a page at a time. Besides the stored states, state=upcoming lists
// scheduled shows that have not ended, Pavilion Days first, and state=past
// ended shows, newest first. A full page carries next_cursor; pass it back
// as cursor.
func (s *Server) listShows(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	offset, limit, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if v := q.Get("cursor"); v != "" {
		if offset, err = decodeCursor(v); err != nil {
			return err
		}
	}
	f := show.Filter{Offset: offset, Limit: limit, IncludeMembers: u.Has(account.RoleMember)}
	if v := q.Get("brand"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return apperr.Errorf(apperr.Invalid, "brand must be a brand id")
		}
		f.BrandID = id
		f.IncludeMembers = f.IncludeMembers || account.CanAdminBrand(u, id)
	}
	if v := q.Get("state"); v != "" {
		for st := range strings.SplitSeq(v, ",") {
			switch st {
			case "upcoming":
				f.States = append(f.States, show.Scheduled)
				f.EndsAfter = time.Now().UTC()
				f.PavilionDayFirst = true
			case "past":
				f.States = append(f.States, show.Ended)
				f.Newest = true
			case string(show.Scheduled), string(show.Live), string(show.Ended), string(show.Cancelled):
				f.States = append(f.States, show.State(st))
			default:
				return apperr.Errorf(apperr.Invalid, "state %q must be live, upcoming, past, scheduled, ended or cancelled", st)
			}
		}
		if (f.PavilionDayFirst || f.Newest) && len(f.States) > 1 {
			return apperr.Errorf(apperr.Invalid, "state=upcoming and state=past cannot be combined with other states")
		}
	}
	list, err := s.Shows.ListShows(r.Context(), f)
	if err != nil {
		return err
	}
	out := map[string]any{"shows": nonNil(list)}
	// A full page may have a next one; the last page can come back empty.
	if len(list) == limit {
		out["next_cursor"] = encodeCursor(offset + limit)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// A cursor is opaque to clients; it holds the offset of the next page.
func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

func decodeCursor(v string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err == nil && len(b) > 1 && b[0] == 'o' {
		if n, err := strconv.Atoi(string(b[1:])); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, apperr.Errorf(apperr.Invalid, "cursor must be a next_cursor this API returned")
}

// visibleShow loads the {id} show, answering NotFound (not Forbidden) when
// the caller may not see it: a members-only show must not be discoverable.
func (s *Server) visibleShow(r *http.Request) (*show.Show, error) {
	id, err := pathID(r, "show")
	if err != nil {
		return nil, err
	}
	sh, err := s.Shows.ShowByID(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := show.CheckSee(UserFrom(r.Context()), sh); err != nil {
		return nil, err
	}
	return sh, nil
}

func (s *Server) getShow(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.visibleShow(r)
	if err != nil {
		return err
	}
	offers, err := s.Catalog.OffersByShow(r.Context(), sh.ID)
	if err != nil {
		return err
	}
	hosts := make([]hostOut, 0, len(sh.HostIDs))
	for _, id := range sh.HostIDs {
		u, err := s.Accounts.Store.UserByID(r.Context(), id)
		if err != nil {
			continue // a host account removed since: the show still plays
		}
		hosts = append(hosts, hostOut{ID: u.ID, Name: u.DisplayName, AvatarURL: u.AvatarURL})
	}
	return reply(w, http.StatusOK, "show", showOut{Show: sh, Offers: nonNil(offers), Hosts: hosts})
}

func (s *Server) createShow(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	var in show.Edit
	if err := decode(r, &in); err != nil {
		return err
	}
	sh, err := s.Schedule.Create(r.Context(), u, in)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, "show", showOut{Show: sh, Offers: []checkout.Offer{}})
}

// callerShow is the signed-in caller and the {id} show, which they must be
// allowed to see (404 otherwise, as everywhere).
func (s *Server) callerShow(r *http.Request) (*account.User, *show.Show, error) {
	u, err := requireUser(r)
	if err != nil {
		return nil, nil, err
	}
	sh, err := s.visibleShow(r)
	if err != nil {
		return nil, nil, err
	}
	return u, sh, nil
}

// adminShow loads the {id} show for a brand admin of its brand.
func (s *Server) adminShow(r *http.Request) (*show.Show, error) {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, sh.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this show's brand")
	}
	return sh, nil
}

func (s *Server) patchShow(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.adminShow(r)
	if err != nil {
		return err
	}
	var in show.Edit
	if err := decode(r, &in); err != nil {
		return err
	}
	if sh, err = s.Schedule.Change(r.Context(), UserFrom(r.Context()), sh, in); err != nil {
		return err
	}
	return reply(w, http.StatusOK, "show", sh)
}

// cancelShow cancels a scheduled show. The record stays (orders and analytics
// refer to it); it never goes live, its Pavilion Days and hosts are free
// again, and what buyers held in it goes back to stock.
func (s *Server) cancelShow(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.adminShow(r)
	if err != nil {
		return err
	}
	sh, err = s.Schedule.Cancel(r.Context(), sh.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "show", sh)
}

// subscription answers whether the caller asked to be told when the show goes live.
func (s *Server) subscription(w http.ResponseWriter, r *http.Request) error {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return err
	}
	ok, err := s.Shows.IsSubscribed(r.Context(), sh.ID, u.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "subscription", subscriptionOut{sh.ID, ok})
}

type subscriptionOut struct {
	ShowID     uuid.UUID `json:"show_id"`
	Subscribed bool      `json:"subscribed"`
}

// subscribe is "notify me": the caller gets a notice when the show goes live.
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request) error {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return err
	}
	if err := s.Schedule.Subscribe(r.Context(), sh, u.ID); err != nil {
		return err
	}
	return reply(w, http.StatusOK, "subscription", subscriptionOut{sh.ID, true})
}

func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) error {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return err
	}
	if err := s.Shows.Unsubscribe(r.Context(), sh.ID, u.ID); err != nil {
		return err
	}
	return reply(w, http.StatusOK, "subscription", subscriptionOut{sh.ID, false})
}

// myNotices lists the caller's in-app notices, newest first (pages poll it).
func (s *Server) myNotices(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	_, limit, err := page(r)
	if err != nil {
		return err
	}
	list, err := s.Shows.Notices(r.Context(), u.ID, limit)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "notices", nonNil(list))
}

// rotateStreamKey makes a new WHIP key for the show, replacing any old one.
// The key is shown once: only its hash is kept.
func (s *Server) rotateStreamKey(w http.ResponseWriter, r *http.Request) error {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return err
	}
	if !account.CanHost(u, sh.BrandID, sh.HostIDs) {
		return apperr.Errorf(apperr.Forbidden, "only this show's hosts and brand admins can get its stream key")
	}
	key, err := show.RotateStreamKey(r.Context(), s.Shows, sh.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"stream_key": key,
		"whip_url":   s.baseURL(r) + "/whip/" + sh.ID.String(),
	})
	return nil
}

// baseURL is the configured public URL, or the one this request came in on.
func (s *Server) baseURL(r *http.Request) string {
	if s.PublicURL != "" {
		return strings.TrimSuffix(s.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// createOffer features one of the brand's SKUs in the show at a show price,
// with units allocated to the show and a per-customer limit.
func (s *Server) createOffer(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	var in struct {
		SKUID            uuid.UUID `json:"sku_id"`
		PriceMinor       int64     `json:"price_minor"`
		Allocated        int       `json:"allocated"`
		PerCustomerLimit int       `json:"per_customer_limit"`
		Drop             bool      `json:"drop"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	o, err := s.Checkout.AddOffer(r.Context(), u, checkout.NewOffer{ShowID: id, SKUID: in.SKUID, PriceMinor: in.PriceMinor,
		Allocated: in.Allocated, PerCustomerLimit: in.PerCustomerLimit, Drop: in.Drop})
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, "offer", o)
}

// pin pins one of the show's offers for every viewer; a null offer_id unpins.
func (s *Server) pin(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	var in struct {
		OfferID uuid.UUID `json:"offer_id"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.Live.Pin(r.Context(), u, id, in.OfferID); err != nil {
		return err
	}
	return reply(w, http.StatusOK, "pinned", in.OfferID)
}

// setDrop opens a flash drop on one of the show's offers for a number of
// seconds, or closes it now.
func (s *Server) setDrop(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	var in struct {
		OfferID uuid.UUID `json:"offer_id"`
		Action  string    `json:"action"`
		Seconds int       `json:"seconds"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.OfferID == uuid.Nil {
		return apperr.Errorf(apperr.Invalid, "offer_id is required")
	}
	o, err := s.Catalog.OfferByID(r.Context(), in.OfferID)
	if err != nil || o.ShowID != id {
		return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", in.OfferID)
	}
	o, err = s.Checkout.SetDrop(r.Context(), u, in.OfferID, in.Action, in.Seconds)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "offer", o)
}

// listModeration lists the show's bans and standing mutes, for its hosts,
// brand admins and platform admins.
func (s *Server) listModeration(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	list, err := s.Live.Sanctions(r.Context(), u, id)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "sanctions", nonNil(list))
}

// liftModeration lifts a user's ban and mute in the show, under the
// moderation hierarchy; the show's room on every node applies it at once.
func (s *Server) liftModeration(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	userID, err := uuid.Parse(r.PathValue("user_id"))
	if err != nil {
		return apperr.Errorf(apperr.NotFound, "user %q not found", r.PathValue("user_id"))
	}
	if err := s.Live.Lift(r.Context(), u, id, userID); err != nil {
		return err
	}
	return reply(w, http.StatusOK, "lifted", userID)
}

// chatHistory pages through a show's archived chat, newest first: before is
// the next_cursor of the page before, or an RFC 3339 time.
func (s *Server) chatHistory(w http.ResponseWriter, r *http.Request) error {
	if s.Chat == nil {
		return notImplemented("chat history (no chat archive configured)")
	}
	id, err := pathID(r, "show")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil {
			limit = -1 // refused by Page, with the range
		}
	}
	var before *chat.Cursor
	if v := q.Get("before"); v != "" {
		if before, err = chat.ParseCursor(v); err != nil {
			return apperr.Errorf(apperr.Invalid, "before must be a next_cursor this API returned or an RFC 3339 time")
		}
	}
	lines, next, err := s.Chat.Page(r.Context(), UserFrom(r.Context()), id, before, limit)
	if err != nil {
		return err
	}
	out := map[string]any{"lines": nonNil(lines)}
	if next != nil {
		out["next_cursor"] = next.String()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
