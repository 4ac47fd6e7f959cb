package cohost

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

// Shows reads shows (show.Store).
type Shows interface {
	ShowByID(ctx context.Context, id uuid.UUID) (*show.Show, error)
}

// Notifier tells the show's live room of a change of its stage, on every
// node (chat.Hub). change is "joined", "left" or "layout".
type Notifier interface {
	StageChanged(ctx context.Context, st Stage, change string)
}

// Stage changes, as the live room's stage event names them.
const (
	ChangeJoined = "joined"
	ChangeLeft   = "left"
	ChangeLayout = "layout"
)

// Media ends a show's guest broadcast on this node (stream.Server): the
// guest's WHIP session if it publishes here, and the guest feed's relay and
// viewers if this node relays it.
type Media interface {
	EndGuest(show uuid.UUID) bool
}

// Bus carries removals to every node (chat.Bus, through a small adapter in
// cmd): each node ends its part of the guest's broadcast at once instead of
// waiting for its relay to notice.
type Bus interface {
	Publish(ctx context.Context, channel string, msg []byte) error
	Subscribe(ctx context.Context, channel string) (Subscription, error)
}

// Subscription is one consumer of a bus channel.
type Subscription interface {
	C() <-chan []byte
	Close() error
}

// kickChannel carries the shows whose guest was removed, between nodes.
const kickChannel = "cohost:kick"

// DefaultInviteTTL is how long an invite stays redeemable.
const DefaultInviteTTL = 24 * time.Hour

// MaxName bounds a guest's display name, in characters.
const MaxName = 60

// Service is the co-host domain: invitations, redemption, the guest key
// check the media server asks, removal, and the stage. Set the fields,
// then use it; Run carries removals from other nodes.
type Service struct {
	Store Store
	Shows Shows
	// Notifier, Media and Bus may be nil (tests): the change is then not
	// announced, no broadcast is ended, or only this node's is.
	Notifier Notifier
	Media    Media
	Bus      Bus
	Logger   *slog.Logger
	// InviteTTL bounds an invite's life; zero: DefaultInviteTTL.
	InviteTTL time.Duration

	now func() time.Time // nil: time.Now
}

func (s *Service) clock() time.Time {
	if s.now != nil {
		return s.now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// hostedShow loads the show for one of the people who run it (show.CheckHost).
func (s *Service) hostedShow(ctx context.Context, u *account.User, showID uuid.UUID) (*show.Show, error) {
	sh, err := s.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	if err := show.CheckHost(u, sh); err != nil {
		return nil, err
	}
	return sh, nil
}

// token is a fresh secret with its prefix, and its hash.
func token(prefix string) (tok, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok = prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// CheckName trims and checks a guest's display name.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxName {
		return "", apperr.Errorf(apperr.Invalid, "name is 1 to %d characters", MaxName)
	}
	if err := textcheck.Line("name", name); err != nil {
		return "", err
	}
	return name, nil
}

// Invite makes a one-time invite for a guest called name to the show, for
// one of its hosts or brand admins. The invite token is returned once,
// never stored. A show that is over invites nobody; a show has one guest at
// a time (Conflict while one is invited or on it: remove them first). An
// invite that expired unused is cleared out of the way.
func (s *Service) Invite(ctx context.Context, u *account.User, showID uuid.UUID, name string) (*Guest, string, error) {
	name, err := CheckName(name)
	if err != nil {
		return nil, "", err
	}
	sh, err := s.hostedShow(ctx, u, showID)
	if err != nil {
		return nil, "", err
	}
	if err := show.CheckOnAir(sh); err != nil {
		return nil, "", err
	}
	now := s.clock()
	guests, err := s.Store.Guests(ctx, showID)
	if err != nil {
		return nil, "", err
	}
	for _, g := range guests {
		if g.Status(now) == Expired {
			if _, err := s.Store.RemoveGuest(ctx, g.ID, now); err != nil {
				return nil, "", err
			}
		}
	}
	ttl := s.InviteTTL
	if ttl <= 0 {
		ttl = DefaultInviteTTL
	}
	tok, hash := token(InvitePrefix)
	g := &Guest{ID: uuid.New(), ShowID: showID, Name: name, InvitedBy: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl), InviteHash: hash}
	if err := s.Store.AddGuest(ctx, g); err != nil {
		return nil, "", err
	}
	return g, tok, nil
}

// Guests lists the show's guests for the people who run it.
func (s *Service) Guests(ctx context.Context, u *account.User, showID uuid.UUID) ([]Guest, error) {
	if _, err := s.hostedShow(ctx, u, showID); err != nil {
		return nil, err
	}
	return s.Store.Guests(ctx, showID)
}

// Redeem trades an invite of the show for the guest's key, once. The key
// is returned once, never stored. Anyone holding the invite may redeem it:
// it is the capability the host handed out.
func (s *Service) Redeem(ctx context.Context, showID uuid.UUID, invite string) (*Guest, string, error) {
	if !strings.HasPrefix(invite, InvitePrefix) || len(invite) > 100 {
		return nil, "", apperr.Errorf(apperr.Invalid, "invite must be the %s… token from the host's link", InvitePrefix)
	}
	sh, err := s.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, "", err
	}
	if err := show.CheckOnAir(sh); err != nil {
		return nil, "", err
	}
	key, keyHash := token(KeyPrefix)
	g, err := s.Store.RedeemInvite(ctx, showID, hashToken(invite), keyHash, s.clock())
	if err != nil {
		return nil, "", err
	}
	return g, key, nil
}

// GuestOf returns the show's guest that key belongs to: Unauthorized for a
// key that is not one (or was removed), Conflict for a show that is over.
func (s *Service) GuestOf(ctx context.Context, showID uuid.UUID, key string) (*Guest, error) {
	if !strings.HasPrefix(key, KeyPrefix) || len(key) > 100 {
		return nil, apperr.Errorf(apperr.Unauthorized, "a guest key (%s…) is required", KeyPrefix)
	}
	g, err := s.Store.GuestByKey(ctx, hashToken(key))
	if apperr.CodeOf(err) == apperr.NotFound || (err == nil && (g.ShowID != showID || g.RemovedAt != nil)) {
		return nil, apperr.Errorf(apperr.Unauthorized, "this guest key is not valid for the show (the host may have removed you)")
	}
	if err != nil {
		return nil, err
	}
	sh, err := s.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	if err := show.CheckOnAir(sh); err != nil {
		return nil, err
	}
	return g, nil
}

// PublishAsGuest reports whether key lets its holder publish the show's
// guest feed (the media server's Guests hook): false, not an error, for a
// key that is not the show's guest's.
func (s *Service) PublishAsGuest(ctx context.Context, showID uuid.UUID, key string) (bool, error) {
	_, err := s.GuestOf(ctx, showID, key)
	if apperr.CodeOf(err) == apperr.Unauthorized {
		return false, nil
	}
	return err == nil, err
}

// Remove withdraws the guest's invite or takes the guest off the show, for
// the people who run it: the key stops working, the guest's broadcast ends
// on every node, and the room hears the guest left.
func (s *Service) Remove(ctx context.Context, u *account.User, showID, guestID uuid.UUID) (*Guest, error) {
	if _, err := s.hostedShow(ctx, u, showID); err != nil {
		return nil, err
	}
	g, err := s.Store.GuestByID(ctx, guestID)
	if err != nil {
		return nil, err
	}
	if g.ShowID != showID {
		return nil, apperr.Errorf(apperr.NotFound, "guest not found")
	}
	now := s.clock()
	if g, err = s.Store.RemoveGuest(ctx, guestID, now); err != nil {
		return nil, err
	}
	// Off the stage first, so the room hears "left" even where the media
	// is already gone; then the broadcast, here and on every other node.
	st, changed, err := s.Store.TakeOffStage(ctx, showID, guestID, now)
	if err != nil {
		return nil, err
	}
	if changed {
		s.announce(ctx, st, ChangeLeft)
	}
	s.kick(ctx, showID)
	return g, nil
}

// kick ends the show's guest broadcast on this node and asks every other
// node to do the same.
func (s *Service) kick(ctx context.Context, showID uuid.UUID) {
	if s.Media != nil {
		s.Media.EndGuest(showID)
	}
	if s.Bus == nil {
		return
	}
	b, _ := json.Marshal(kickMsg{Show: showID})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Bus.Publish(ctx, kickChannel, b); err != nil {
		// The guest's key no longer works and its origin ended it; edges
		// notice their pull end within seconds.
		s.log().Warn("cohost: telling other nodes of a removal", "show", showID, "err", err)
	}
}

type kickMsg struct {
	Show uuid.UUID `json:"show"`
}

// Run ends, on this node, the guest broadcasts other nodes removed, until
// ctx ends. Without a Bus it returns at once.
func (s *Service) Run(ctx context.Context) error {
	if s.Bus == nil {
		return nil
	}
	sub, err := s.Bus.Subscribe(ctx, kickChannel)
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case b, ok := <-sub.C():
			if !ok {
				return nil
			}
			var m kickMsg
			if err := json.Unmarshal(b, &m); err != nil || m.Show == uuid.Nil {
				s.log().Warn("cohost: a removal message that is not one", "err", err)
				continue
			}
			if s.Media != nil {
				s.Media.EndGuest(m.Show)
			}
		}
	}
}

// StageOf returns the show's stage for whoever may see the show.
func (s *Service) StageOf(ctx context.Context, u *account.User, showID uuid.UUID) (Stage, error) {
	sh, err := s.Shows.ShowByID(ctx, showID)
	if err != nil {
		return Stage{}, err
	}
	if err := show.CheckSee(u, sh); err != nil {
		return Stage{}, err
	}
	return s.Store.Stage(ctx, showID)
}

// SetLayout switches the show's layout for every viewer, for the people who run it.
func (s *Service) SetLayout(ctx context.Context, u *account.User, showID uuid.UUID, layout string) (Stage, error) {
	if !slices.Contains(Layouts, layout) {
		return Stage{}, apperr.Errorf(apperr.Invalid, "layout must be one of %s", strings.Join(Layouts, ", "))
	}
	if _, err := s.hostedShow(ctx, u, showID); err != nil {
		return Stage{}, err
	}
	st, err := s.Store.SetLayout(ctx, showID, layout, s.clock())
	if err != nil {
		return Stage{}, err
	}
	s.announce(ctx, st, ChangeLayout)
	return st, nil
}

// GuestLive is the media server's word that the show's guest began
// publishing on this node: the guest goes on stage and the room hears it.
func (s *Service) GuestLive(ctx context.Context, showID uuid.UUID) {
	guests, err := s.Store.Guests(ctx, showID)
	if err != nil {
		s.log().Warn("cohost: guest live", "show", showID, "err", err)
		return
	}
	for _, g := range guests {
		if g.RemovedAt == nil && g.RedeemedAt != nil {
			st, err := s.Store.PutOnStage(ctx, showID, g.ID, s.clock())
			if err != nil {
				s.log().Warn("cohost: guest on stage", "show", showID, "err", err)
				return
			}
			s.announce(ctx, st, ChangeJoined)
			return
		}
	}
}

// GuestGone is the media server's word that the show's guest broadcast
// ended on this node (the guest left and did not come back within the
// grace period, or was removed): the room hears the guest left.
func (s *Service) GuestGone(ctx context.Context, showID uuid.UUID) {
	st, err := s.Store.Stage(ctx, showID)
	if err != nil || st.GuestID == nil {
		if err != nil {
			s.log().Warn("cohost: guest gone", "show", showID, "err", err)
		}
		return
	}
	st, changed, err := s.Store.TakeOffStage(ctx, showID, *st.GuestID, s.clock())
	if err != nil {
		s.log().Warn("cohost: guest off stage", "show", showID, "err", err)
		return
	}
	if changed {
		s.announce(ctx, st, ChangeLeft)
	}
}

func (s *Service) announce(ctx context.Context, st Stage, change string) {
	if s.Notifier != nil {
		s.Notifier.StageChanged(ctx, st, change)
	}
}
