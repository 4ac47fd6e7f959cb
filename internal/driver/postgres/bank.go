package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

var _ analytics.BankStore = BankStore{}

// BankStore reads the data bank: a brand's shows, funnel and audience.
type BankStore struct{ *conn }

// bankQ are the data bank's list queries, spelled once for PostgreSQL.
var bankQ = dialect.Bank()

// BrandShows lists the brand's shows starting in [from, to), cancelled ones
// left out, by start time: the latest analytics.MaxBankShows of them.
func (db BankStore) BrandShows(ctx context.Context, brandID uuid.UUID, from, to time.Time) ([]analytics.ShowRef, error) {
	rows, err := db.pool.Query(ctx, sqlstore.BrandShows, brandID, pgTime(from), pgTime(to), analytics.MaxBankShows)
	list, err := collect(rows, err, func(r sqlstore.Row) (*analytics.ShowRef, error) {
		var s analytics.ShowRef
		return &s, r.Scan(&s.ID, &s.Title, scan.Time(&s.StartsAt), scan.Time(&s.EndsAt), &s.State)
	})
	return list, storeErr("brand shows", err)
}

// Funnel counts the scope's people by the furthest step each reached, from
// one snapshot.
func (db BankStore) Funnel(ctx context.Context, s analytics.FunnelScope) (*analytics.FunnelCounts, error) {
	f := &analytics.FunnelCounts{}
	shows := sqlstore.IDs(s.Shows)
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, bankQ.Funnel, shows, s.BrandID, pgTime(s.FollowFrom), pgTime(s.FollowTo), pgTime(s.Until))
		if err != nil {
			return err
		}
		var lvl, n, notBought int64
		if _, err := pgx.ForEachRow(rows, []any{&lvl, &n, &notBought}, func() error {
			sqlstore.AddLevel(f, lvl, n)
			f.TappedNotBought += notBought
			return nil
		}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, bankQ.BoughtAgain, s.BrandID, pgTime(s.Until), shows).Scan(&f.BoughtAgain)
	})
	if err != nil {
		return nil, storeErr("funnel", err)
	}
	return f, nil
}

// LostIntents lists the shows' lost intents by show, offer and cause, with
// the offer's product name and SKU code.
func (db BankStore) LostIntents(ctx context.Context, showIDs []uuid.UUID) ([]analytics.LostRow, error) {
	rows, err := db.pool.Query(ctx, bankQ.LostIntents, sqlstore.IDs(showIDs))
	list, err := collect(rows, err, func(r sqlstore.Row) (*analytics.LostRow, error) {
		var l analytics.LostRow
		return &l, r.Scan(&l.ShowID, &l.OfferID, &l.Offer, &l.Cause, &l.N)
	})
	return list, storeErr("lost intents", err)
}

// Audience counts the brand's followers, the members among them, and its
// repeat buyers, as they stood just before at.
func (db BankStore) Audience(ctx context.Context, brandID uuid.UUID, at time.Time) (*analytics.AudienceCounts, error) {
	a := &analytics.AudienceCounts{}
	err := db.pool.QueryRow(ctx, sqlstore.Audience, brandID, pgTime(at)).Scan(&a.Followers, &a.Members, &a.RepeatBuyers)
	if err != nil {
		return nil, storeErr("audience", err)
	}
	return a, nil
}
