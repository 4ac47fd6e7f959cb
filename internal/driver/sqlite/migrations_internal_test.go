package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/pavilion-live/pavilion/internal/account"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore/sqlstoretest"
)

// unmigrated opens a fresh file with no migration applied, and the goose
// provider that walks its versions by hand; both close when the test ends.
func unmigrated(t *testing.T) (*DB, *goose.Provider) {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "pavilion.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return db, p
}

// migrationRoundTrip runs storetest.MigrationRoundTrip for version on a
// fresh file; query answers how many of the version's own tables and
// columns exist (want of them after it, none before it).
func migrationRoundTrip(t *testing.T, version int64, want int, query string) {
	t.Helper()
	db, p := unmigrated(t)
	sqlstoretest.MigrationRoundTrip(t, db.shared, p, version, want, query)
}

// TestDrawsMigration: version 10 adds the draws tables.
func TestDrawsMigration(t *testing.T) {
	migrationRoundTrip(t, 10, 2, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('draws', 'draw_entries')`)
}

// TestChatLinesMigration: version 9 adds the chat tables.
func TestChatLinesMigration(t *testing.T) {
	migrationRoundTrip(t, 9, 2, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('chat_lines', 'chat_deletions')`)
}

// TestWalletMigrationReverts: version 11 adds the wallet and follows tables.
func TestWalletMigrationReverts(t *testing.T) {
	migrationRoundTrip(t, 11, 4, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'
		AND name IN ('addresses', 'payment_methods', 'buyer_privacy', 'brand_follows')`)
}

// TestShowPinsMigration: version 12 adds the pins table.
func TestShowPinsMigration(t *testing.T) {
	migrationRoundTrip(t, 12, 1, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'show_pins'`)
}

// TestCouponsMigrationReverts: version 14 adds its tables and columns on
// orders and draws, and takes all of them away going down.
func TestCouponsMigrationReverts(t *testing.T) {
	migrationRoundTrip(t, 14, 7, `SELECT
		(SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('coupons', 'coupon_uses'))
		+ (SELECT count(*) FROM pragma_table_info('orders') WHERE name IN ('coupon_id', 'coupon_code', 'discount_minor'))
		+ (SELECT count(*) FROM pragma_table_info('draws') WHERE name IN ('giveaway', 'eligibility'))`)
}

// TestCustomerIndexMigration: version 18 replaces reservations' two
// customer indexes with one, and puts them back going down.
func TestCustomerIndexMigration(t *testing.T) {
	migrationRoundTrip(t, 18, 1, `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'reservations_customer_idx'`)
	db, p := unmigrated(t)
	ctx := context.Background()
	if _, err := p.UpTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	if n := sqlstoretest.Count(t, db.shared, `SELECT count(*) FROM sqlite_schema WHERE type = 'index'
		AND name IN ('reservations_offer_user_idx', 'reservations_show_user_idx')`); n != 2 {
		t.Fatalf("after version 18 down: %d of the two narrower indexes, want 2", n)
	}
}

// TestGuestRecordingsMigration: version 20 gives recordings a role and the
// timeline's marks a layout (replay_marks rebuilt for its wider CHECK), and
// takes both away going down.
func TestGuestRecordingsMigration(t *testing.T) {
	migrationRoundTrip(t, 20, 2, `SELECT
		(SELECT count(*) FROM pragma_table_info('recordings') WHERE name = 'role')
		+ (SELECT count(*) FROM pragma_table_info('replay_marks') WHERE name = 'layout')`)
}

// TestShowTimesMigration: version 19 adds the real start and end of shows,
// and takes them away going down.
func TestShowTimesMigration(t *testing.T) {
	migrationRoundTrip(t, 19, 2, `SELECT count(*) FROM pragma_table_info('shows') WHERE name IN ('went_live_at', 'ended_at')`)
}

// TestIdempotencyRowidMigration: version 22 stores idempotency_keys with
// rowids, and WITHOUT ROWID again going down; the stored keys are kept
// both ways.
func TestIdempotencyRowidMigration(t *testing.T) {
	const rowid = `SELECT count(*) FROM pragma_table_list WHERE name = 'idempotency_keys' AND wr = 0`
	migrationRoundTrip(t, 22, 1, rowid)
	db, p := unmigrated(t)
	ctx := context.Background()
	if _, err := p.UpTo(ctx, 21); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	u := &account.User{ID: uuid.New(), Email: "keys@example.com", CreatedAt: at}
	if err := db.CreateUser(ctx, u, "h"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"k1", "k2"} {
		if _, err := db.shared.Exec(ctx, `INSERT INTO idempotency_keys (user_id, op, key, request_hash, result, created_at)
			VALUES ($1, 'reserve', $2, 'h', $3, $4)`, u.ID, k, []byte(`{"k":"`+k+`"}`), micros(at)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, wantRowid int) {
		t.Helper()
		if n := sqlstoretest.Count(t, db.shared, rowid); n != wantRowid {
			t.Fatalf("%s: %d idempotency_keys tables with rowids, want %d", when, n, wantRowid)
		}
		for _, k := range []string{"k1", "k2"} {
			got, err := db.LookupIdempotency(ctx, u.ID, "reserve", k)
			if err != nil || got.RequestHash != "h" || string(got.Result) != `{"k":"`+k+`"}` || !got.CreatedAt.Equal(at) {
				t.Fatalf("%s: key %s = %+v, %v", when, k, got, err)
			}
		}
	}
	if _, err := p.UpTo(ctx, 22); err != nil {
		t.Fatal(err)
	}
	check("after version 22", 1)
	if _, err := p.DownTo(ctx, 21); err != nil {
		t.Fatal(err)
	}
	check("after version 22 down", 0)
}
