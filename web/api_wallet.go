package web

import (
	"errors"
	"net/http"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/wallet"
)

// walletRoutes are the viewer's address book, remembered payment method,
// privacy choice and follows.
func (s *Server) walletRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/me/addresses", s.api(s.listAddresses))
	mux.HandleFunc("POST /api/me/addresses", s.api(s.saveAddress))
	mux.HandleFunc("DELETE /api/me/addresses/{id}", s.api(s.deleteAddress))
	mux.HandleFunc("GET /api/me/payment-method", s.api(s.paymentMethod))
	mux.HandleFunc("DELETE /api/me/payment-method", s.api(s.forgetPaymentMethod))
	mux.HandleFunc("GET /api/me/privacy", s.api(s.privacy))
	mux.HandleFunc("PUT /api/me/privacy", s.api(s.setPrivacy))
	mux.HandleFunc("GET /api/me/follows", s.api(s.myFollows))
	mux.HandleFunc("GET /api/brands/{id}/follow", s.api(s.follow("get")))
	mux.HandleFunc("PUT /api/brands/{id}/follow", s.api(s.follow("put")))
	mux.HandleFunc("DELETE /api/brands/{id}/follow", s.api(s.follow("delete")))
}

func (s *Server) wallet() (*wallet.Service, error) {
	if s.Wallet == nil {
		return nil, notImplemented("the address book (no wallet configured)")
	}
	return s.Wallet, nil
}

// walletOf is the signed-in caller and the wallet service, which every
// /api/me wallet route needs.
func (s *Server) walletOf(r *http.Request) (*account.User, *wallet.Service, error) {
	u, err := requireUser(r)
	if err != nil {
		return nil, nil, err
	}
	wl, err := s.wallet()
	return u, wl, err
}

func (s *Server) listAddresses(w http.ResponseWriter, r *http.Request) error {
	u, wl, err := s.walletOf(r)
	if err != nil {
		return err
	}
	list, err := wl.Addresses(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "addresses", nonNil(list))
}

func (s *Server) saveAddress(w http.ResponseWriter, r *http.Request) error {
	u, wl, err := s.walletOf(r)
	if err != nil {
		return err
	}
	var sh checkout.Shipping
	if err := decode(r, &sh); err != nil {
		return err
	}
	a, err := wl.SaveAddress(r.Context(), u.ID, sh)
	if err != nil {
		return err
	}
	a.Default = true
	return reply(w, http.StatusCreated, "address", a)
}

func (s *Server) deleteAddress(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "address")
	if err != nil {
		return err
	}
	wl, err := s.wallet()
	if err != nil {
		return err
	}
	if err := wl.Store.DeleteAddress(r.Context(), u.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// paymentMethod answers the remembered method's label, or null: the
// reference itself never leaves the server.
func (s *Server) paymentMethod(w http.ResponseWriter, r *http.Request) error {
	u, wl, err := s.walletOf(r)
	if err != nil {
		return err
	}
	m, err := wl.Store.PaymentMethod(r.Context(), u.ID)
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		return reply(w, http.StatusOK, "payment_method", nil)
	} else if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "payment_method", m)
}

func (s *Server) forgetPaymentMethod(w http.ResponseWriter, r *http.Request) error {
	u, wl, err := s.walletOf(r)
	if err != nil {
		return err
	}
	if err := wl.Store.ForgetPaymentMethod(r.Context(), u.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type privacy struct {
	// HidePurchases keeps the account out of the live room's "just bought" notices.
	HidePurchases *bool `json:"hide_purchases"`
}

func (s *Server) privacy(w http.ResponseWriter, r *http.Request) error {
	u, wl, err := s.walletOf(r)
	if err != nil {
		return err
	}
	hide, err := wl.Store.HidesPurchases(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "privacy", privacy{&hide})
}

func (s *Server) setPrivacy(w http.ResponseWriter, r *http.Request) error {
	u, wl, err := s.walletOf(r)
	if err != nil {
		return err
	}
	var in privacy
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.HidePurchases == nil {
		return apperr.Errorf(apperr.Invalid, "hide_purchases is required")
	}
	if err := wl.Store.SetHidesPurchases(r.Context(), u.ID, *in.HidePurchases); err != nil {
		return err
	}
	return reply(w, http.StatusOK, "privacy", in)
}
