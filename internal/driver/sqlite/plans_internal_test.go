package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// plannedDB is a migrated, empty store whose query plans the tests read.
func plannedDB(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "pavilion.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// plan is SQLite's query plan for query with args, one step a line.
func plan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "\n")
}

// TestReservationQueryPlans: every query that picks reservations by show,
// customer or offer finds them through an index, not by reading the table
// (migration 18 left reservations one index for all of them, so a query
// that stopped naming the show would scan every hold ever made).
func TestReservationQueryPlans(t *testing.T) {
	db := plannedDB(t)
	id := uuid.New()
	active, activeArgs := sqlstore.ActiveReservations(id, id)
	for _, q := range []struct {
		name  string
		query string
		args  []any
		want  string // the index the plan must use for reservations
	}{
		{"customer units in a batch", qCustomersUnits, []any{`[["` + id.String() + `","` + id.String() + `","` + id.String() + `"]]`}, "reservations_customer_idx"},
		{"customer units", offerCustomerUnits, []any{id, id}, "reservations_customer_idx"},
		{"offer customers", offerCustomers, []any{id}, "reservations_customer_idx"},
		{"active holds in a show", active, activeArgs, "reservations_customer_idx"},
		{"show sales", `SELECT offer_id, count(*) AS n, sum(quantity) AS units FROM reservations WHERE show_id = $1 GROUP BY offer_id`,
			[]any{id}, "reservations_customer_idx"},
		{"data bank funnel", dialect.Bank().Funnel, []any{`["` + id.String() + `"]`, id, 0, 1, 2}, "reservations_customer_idx"},
		{"expiry", `SELECT id FROM reservations WHERE state = 'held' AND expires_at <= $1 ORDER BY expires_at LIMIT 10`,
			[]any{1}, "reservations_expiry_idx"},
	} {
		p := plan(t, db, q.query, q.args...)
		t.Logf("%s:\n%s", q.name, p)
		for _, step := range strings.Split(p, "\n") {
			if strings.Contains(step, "reservations") && !strings.Contains(step, q.want) {
				t.Errorf("%s: a step reads reservations without %s:\n%s", q.name, q.want, p)
				break
			}
		}
		if !strings.Contains(p, q.want) {
			t.Errorf("%s: plan does not use %s:\n%s", q.name, q.want, p)
		}
	}
}

// TestHoldBatchQueryPlans: a batch of holds looks its customers and keys up
// in one statement each; each element of the batch must be a probe of the
// table's key, never a scan of users or of every key ever stored.
func TestHoldBatchQueryPlans(t *testing.T) {
	db := plannedDB(t)
	id := uuid.New().String()
	for _, q := range []struct {
		name, query, arg, table string
	}{
		{"customers", qUsersExist, `["` + id + `"]`, "users"},
		{"keys", qKeysStored, `[["` + id + `","reserve","k"]]`, "idempotency_keys"},
	} {
		p := plan(t, db, q.query, q.arg)
		t.Logf("%s:\n%s", q.name, p)
		if strings.Contains(p, "SCAN "+q.table) || strings.Contains(p, "SCAN k") || !strings.Contains(p, "SEARCH") {
			t.Errorf("%s: the plan does not probe %s by its key:\n%s", q.name, q.table, p)
		}
	}
}

// TestCredentialUsersPlan: the batch that checks credentials in use again
// (the live room's, up to 1,000 of them) finds each by its ID, not by
// reading every unexpired credential.
func TestCredentialUsersPlan(t *testing.T) {
	db := plannedDB(t)
	p := plan(t, db, `SELECT `+userCols+`, c.id FROM credentials c JOIN users u ON u.id = c.user_id
			WHERE c.expires_at > $1 AND c.id IN `+inList(2, 3), 1, uuid.New(), uuid.New(), uuid.New())
	t.Logf("credential users:\n%s", p)
	byID := false
	for _, step := range strings.Split(p, "\n") {
		byID = byID || strings.HasPrefix(step, "SEARCH c ") && strings.Contains(step, "(id=?)")
	}
	if !byID {
		t.Errorf("the plan does not find credentials by ID:\n%s", p)
	}
}
