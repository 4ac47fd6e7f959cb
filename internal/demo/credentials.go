package demo

import (
	"context"
	"strings"
	"time"

	"github.com/pavilion-live/pavilion/internal/show"
)

// Credentials is the flat object `pavilion demo --json` prints for scripts
// and load tools.
type Credentials struct {
	BaseURL   string   `json:"base_url"`
	ShowID    string   `json:"show_id"`
	BrandID   string   `json:"brand_id"`
	OfferIDs  []string `json:"offer_ids"`
	StreamKey string   `json:"stream_key"`
	WHIPURL   string   `json:"whip_url"`
	WHEPURL   string   `json:"whep_url"`
	WatchURL  string   `json:"watch_url"`
	StudioURL string   `json:"studio_url"`
	WSURL     string   `json:"ws_url"`

	Password        string `json:"password"`
	AdminEmail      string `json:"admin_email"`
	BrandAdminEmail string `json:"brand_admin_email"`
	HostEmail       string `json:"host_email"`
	ViewerEmail     string `json:"viewer_email"`
	MemberEmail     string `json:"member_email"`

	AdminToken      string `json:"admin_token"`
	BrandAdminToken string `json:"brand_admin_token"`
	HostToken       string `json:"host_token"`
	ViewerToken     string `json:"viewer_token"`
	MemberToken     string `json:"member_token"`
}

// TokenTTL bounds the demo tokens: they are for a session of trying things out.
const TokenTTL = 7 * 24 * time.Hour

// Issue seeds what is missing, then issues a fresh bearer token per demo
// account and rotates the demo show's stream key (a key is only ever shown
// once, so printing one means making a new one; a publisher using the old key
// must reconnect with the new).
func Issue(ctx context.Context, d Deps, baseURL string) (*Credentials, error) {
	if err := Seed(ctx, d); err != nil {
		return nil, err
	}
	b, err := d.Brands.BrandBySlug(ctx, brandSlug)
	if err != nil {
		return nil, err
	}
	c := &Credentials{
		BaseURL: baseURL, ShowID: ShowID.String(), BrandID: b.ID.String(),
		WHIPURL: baseURL + "/whip/" + ShowID.String(), WHEPURL: baseURL + "/whep/" + ShowID.String(),
		WatchURL: baseURL + "/shows/" + ShowID.String(), StudioURL: baseURL + "/studio/" + ShowID.String(),
		WSURL:    wsURL(baseURL) + "/ws/shows/" + ShowID.String(),
		Password: Password, AdminEmail: AdminEmail, BrandAdminEmail: BrandAdminEmail,
		HostEmail: HostEmail, ViewerEmail: ViewerEmail, MemberEmail: MemberEmail,
	}
	for _, o := range Offers(time.Time{}) {
		c.OfferIDs = append(c.OfferIDs, o.ID.String())
	}
	if c.StreamKey, err = show.RotateStreamKey(ctx, d.Shows, ShowID); err != nil {
		return nil, err
	}
	for email, dst := range map[string]*string{
		AdminEmail: &c.AdminToken, BrandAdminEmail: &c.BrandAdminToken, HostEmail: &c.HostToken,
		ViewerEmail: &c.ViewerToken, MemberEmail: &c.MemberToken,
	} {
		u, _, err := d.Accounts.Store.UserByEmail(ctx, email)
		if err != nil {
			return nil, err
		}
		if *dst, _, err = d.Accounts.IssueToken(ctx, u.ID, "demo", TokenTTL); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func wsURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	if rest, ok := strings.CutPrefix(base, "http://"); ok {
		return "ws://" + rest
	}
	return base
}
