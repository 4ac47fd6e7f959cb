package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// BrandBank is what the API needs of the data bank (an *analytics.Recorder).
type BrandBank interface {
	Bank(ctx context.Context, q analytics.BankQuery) (*analytics.Bank, error)
}

// The period the data bank shows when none is asked for: the last 30 days
// and the coming week (upcoming shows gather follows and "notify me").
const (
	defaultBankDays  = 30
	defaultBankAhead = 7
)

// bankQuery reads the {id} brand, which the caller must administer, and the
// period: from and to as dates (2030-06-01, whole days in UTC) or RFC 3339
// times; by default the last 30 days, today included, and the next 7. show, when given,
// narrows it to one of the brand's shows in the period.
func (s *Server) bankQuery(r *http.Request) (analytics.BankQuery, BrandBank, error) {
	b, err := s.adminBrand(r)
	if err != nil {
		return analytics.BankQuery{}, nil, err
	}
	bank, ok := s.Analytics.(BrandBank)
	if s.Analytics == nil || !ok {
		return analytics.BankQuery{}, nil, notImplemented("the data bank (no analytics configured)")
	}
	q := analytics.BankQuery{BrandID: b.ID}
	v := r.URL.Query()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	q.From, q.To = today.AddDate(0, 0, -defaultBankDays+1), today.AddDate(0, 0, defaultBankAhead+1)
	if to := v.Get("to"); to != "" {
		if q.To, err = bankTime("to", to, true); err != nil {
			return q, nil, err
		}
		q.From = q.To.AddDate(0, 0, -defaultBankDays)
	}
	if from := v.Get("from"); from != "" {
		if q.From, err = bankTime("from", from, false); err != nil {
			return q, nil, err
		}
	}
	if sh := v.Get("show"); sh != "" {
		if q.Show, err = uuid.Parse(sh); err != nil {
			return q, nil, apperr.Errorf(apperr.Invalid, "show must be a show ID")
		}
	}
	return q, bank, nil
}

// bankTime parses a period bound. A date is a whole day in UTC: as the end
// of a period it includes that day.
func bankTime(name, v string, end bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			d = d.Add(24 * time.Hour)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apperr.Errorf(apperr.Invalid, "%s must be a date (2030-06-01) or an RFC 3339 time", name)
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// brandInsights is the brand's data bank: funnel, lost intents and audiences,
// for its admins and platform admins, small groups masked.
func (s *Server) brandInsights(w http.ResponseWriter, r *http.Request) error {
	q, bank, err := s.bankQuery(r)
	if err != nil {
		return err
	}
	b, err := bank.Bank(r.Context(), q)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "insights", b.Public())
}

// Data bank CSV tables.
const (
	tableFunnel    = "funnel"
	tableShows     = "shows"
	tableLost      = "lost"
	tableAudiences = "audiences"
)

// brandInsightsCSV writes one table of the data bank (?table=funnel, shows,
// lost or audiences) as CSV: aggregates only, masked as in the API, so an
// export holds no personal data.
func (s *Server) brandInsightsCSV(w http.ResponseWriter, r *http.Request) error {
	table := r.URL.Query().Get("table")
	switch table {
	case tableFunnel, tableShows, tableLost, tableAudiences:
	default:
		return apperr.Errorf(apperr.Invalid, "table must be funnel, shows, lost or audiences")
	}
	q, bank, err := s.bankQuery(r)
	if err != nil {
		return err
	}
	b, err := bank.Bank(r.Context(), q)
	if err != nil {
		return err
	}
	in := b.Public()
	cw := startCSV(w, fmt.Sprintf("insights-%s-%s-%s-%s.csv", table, q.BrandID, q.From.Format("20060102"), q.To.Format("20060102")))
	conv := func(c *float64) string {
		if c == nil {
			return ""
		}
		return strconv.FormatFloat(*c, 'f', 4, 64)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	switch table {
	case tableFunnel:
		_ = cw.Write([]string{"step", "people", "conversion_from_previous"})
		for _, st := range in.Funnel {
			_ = cw.Write([]string{st.Step, st.People.String(), conv(st.Conversion)})
		}
		_ = cw.Write([]string{"replay_viewers", in.Replay.Viewers.String(), ""})
	case tableShows:
		head := []string{"show_id", "title", "starts_at"}
		head = append(head, analytics.FunnelSteps...)
		for _, c := range in.Causes {
			head = append(head, "lost_"+c)
		}
		head = append(head, "replay_viewers", "replay_views", "replay_orders", "replay_units")
		_ = cw.Write(head)
		for _, sh := range in.Shows {
			row := []string{sh.ID.String(), sh.Title, sh.StartsAt.Format(time.RFC3339)}
			for _, st := range sh.Funnel {
				row = append(row, st.People.String())
			}
			for _, c := range in.Causes {
				row = append(row, n(sh.Lost[c]))
			}
			row = append(row, sh.Replay.Viewers.String(), n(sh.Replay.Views), n(sh.Replay.Orders), n(sh.Replay.Units))
			_ = cw.Write(csvSafe(row...))
		}
	case tableLost:
		head := []string{"show_id", "offer_id", "offer"}
		head = append(head, in.Causes...)
		head = append(head, "total")
		_ = cw.Write(head)
		for _, l := range in.Lost {
			row := []string{l.ShowID.String(), l.OfferID.String(), l.Offer}
			for _, c := range in.Causes {
				row = append(row, n(l.Causes[c]))
			}
			_ = cw.Write(csvSafe(append(row, n(l.Total))...))
		}
	case tableAudiences:
		_ = cw.Write([]string{"bucket_start", "followers", "members", "repeat_buyers", "tapped_not_bought"})
		for _, p := range in.Audiences.Trend {
			_ = cw.Write([]string{p.At.Format(time.RFC3339), p.Followers.String(), p.Members.String(), p.RepeatBuyers.String(), p.TappedNotBought.String()})
		}
	}
	cw.Flush()
	return nil
}

// tellFollowers sends the brand's followers a notice about the {id} show,
// once; it answers how many were told.
func (s *Server) tellFollowers(w http.ResponseWriter, r *http.Request) error {
	return replyForID(w, r, "show", "told", s.Schedule.TellFollowers)
}
