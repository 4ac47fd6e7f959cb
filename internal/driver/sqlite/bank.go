package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

var _ analytics.BankStore = BankStore{}

// BankStore reads the data bank: a brand's shows, funnel and audience.
type BankStore struct{ *conn }

// bankQ are the data bank's list queries, spelled once for SQLite.
var bankQ = dialect.Bank()

// BrandShows lists the brand's shows starting in [from, to), cancelled ones
// left out, by start time: the latest analytics.MaxBankShows of them.
func (db BankStore) BrandShows(ctx context.Context, brandID uuid.UUID, from, to time.Time) ([]analytics.ShowRef, error) {
	list, err := queryAll(ctx, db.r, func(r row) (*analytics.ShowRef, error) {
		var s analytics.ShowRef
		return &s, r.Scan(&s.ID, &s.Title, asTime(&s.StartsAt), asTime(&s.EndsAt), &s.State)
	}, sqlstore.BrandShows, brandID, micros(from), micros(to), analytics.MaxBankShows)
	return list, storeErr("brand shows", err)
}

// Funnel counts the scope's people by the furthest step each reached, from
// one snapshot.
func (db BankStore) Funnel(ctx context.Context, s analytics.FunnelScope) (*analytics.FunnelCounts, error) {
	f := &analytics.FunnelCounts{}
	shows := jsonList(sqlstore.IDs(s.Shows))
	err := db.read(ctx, "funnel", func(tx *sql.Tx) error {
		type level struct{ lvl, n, notBought int64 }
		rows, err := queryAll(ctx, tx, func(r row) (*level, error) {
			var l level
			return &l, r.Scan(&l.lvl, &l.n, &l.notBought)
		}, bankQ.Funnel, shows, s.BrandID, micros(s.FollowFrom), micros(s.FollowTo), micros(s.Until))
		if err != nil {
			return err
		}
		for _, l := range rows {
			sqlstore.AddLevel(f, l.lvl, l.n)
			f.TappedNotBought += l.notBought
		}
		return tx.QueryRowContext(ctx, bankQ.BoughtAgain, s.BrandID, micros(s.Until), shows).Scan(&f.BoughtAgain)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// LostIntents lists the shows' lost intents by show, offer and cause, with
// the offer's product name and SKU code.
func (db BankStore) LostIntents(ctx context.Context, showIDs []uuid.UUID) ([]analytics.LostRow, error) {
	list, err := queryAll(ctx, db.r, func(r row) (*analytics.LostRow, error) {
		var l analytics.LostRow
		return &l, r.Scan(&l.ShowID, &l.OfferID, &l.Offer, &l.Cause, &l.N)
	}, bankQ.LostIntents, jsonList(sqlstore.IDs(showIDs)))
	return list, storeErr("lost intents", err)
}

// Audience counts the brand's followers, the members among them, and its
// repeat buyers, as they stood just before at.
func (db BankStore) Audience(ctx context.Context, brandID uuid.UUID, at time.Time) (*analytics.AudienceCounts, error) {
	a := &analytics.AudienceCounts{}
	err := db.r.QueryRowContext(ctx, sqlstore.Audience, brandID, micros(at)).Scan(&a.Followers, &a.Members, &a.RepeatBuyers)
	if err != nil {
		return nil, storeErr("audience", err)
	}
	return a, nil
}
