package web

import "net/http"

// prizeCoupons serves GET /api/shows/{id}/prize-coupons: the brand's
// coupons the studio's giveaway form may offer as a prize, for whoever may
// run the show.
func (s *Server) prizeCoupons(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	list, err := s.Checkout.PrizeCoupons(r.Context(), u, id)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "coupons", list)
}
