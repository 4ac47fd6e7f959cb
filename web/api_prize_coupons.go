package web

import "net/http"

// prizeCoupons serves GET /api/shows/{id}/prize-coupons: the brand's
// coupons the studio's giveaway form may offer as a prize, for whoever may
// run the show.
func (s *Server) prizeCoupons(w http.ResponseWriter, r *http.Request) error {
	return replyForID(w, r, "show", "coupons", s.Checkout.PrizeCoupons)
}
