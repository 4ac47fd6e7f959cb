package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// ShowStats is what the API needs of analytics (an *analytics.Recorder).
type ShowStats interface {
	Stats(ctx context.Context, showID uuid.UUID) (*analytics.Stats, error)
}

// statsShow loads the {id} show for its analytics: its hosts, its brand's
// admins and platform admins may read them. A show the caller may not see
// at all is 404, as everywhere.
func (s *Server) statsShow(r *http.Request) (*show.Show, error) {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return nil, err
	}
	if !account.CanHost(u, sh.BrandID, sh.HostIDs) {
		return nil, apperr.Errorf(apperr.Forbidden, "only this show's hosts and brand admins can see its analytics")
	}
	if s.Analytics == nil {
		return nil, notImplemented("show analytics (no analytics configured)")
	}
	return sh, nil
}

func (s *Server) showStats(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.statsShow(r)
	if err != nil {
		return err
	}
	st, err := s.Analytics.Stats(r.Context(), sh.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "stats", st)
}

// showStatsCSV writes the per-minute series: one row a minute, zeros
// included, with a GMV column per currency the show sold in.
func (s *Server) showStatsCSV(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.statsShow(r)
	if err != nil {
		return err
	}
	st, err := s.Analytics.Stats(r.Context(), sh.ID)
	if err != nil {
		return err
	}
	currencies := make([]string, 0, len(st.GMV))
	for _, m := range st.GMV {
		currencies = append(currencies, m.Currency)
	}
	cw := startCSV(w, fmt.Sprintf("stats-show-%s-%s.csv", sh.ID, time.Now().UTC().Format("20060102")))
	head := []string{"minute", "viewers", "reservations", "orders", "units"}
	for _, c := range currencies {
		head = append(head, "gmv_"+c)
	}
	_ = cw.Write(head)
	for _, m := range st.Minutes {
		row := []string{m.At.Format(time.RFC3339), strconv.FormatInt(m.Viewers, 10), strconv.FormatInt(m.Reservations, 10),
			strconv.FormatInt(m.Orders, 10), strconv.FormatInt(m.Units, 10)}
		for _, c := range currencies {
			var minor int64
			for _, g := range m.GMV {
				if g.Currency == c {
					minor = g.Minor
				}
			}
			row = append(row, minorString(minor, c))
		}
		_ = cw.Write(csvSafe(row...))
	}
	cw.Flush()
	return nil
}
