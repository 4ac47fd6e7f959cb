package testinfra

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres creates an empty database for the calling test on the server
// named by PostgresEnv (skipping, or failing under CI, when it is unset) and
// returns its URL. The database is dropped, with any connections still open
// to it, when the test ends.
func Postgres(tb testing.TB) string {
	tb.Helper()
	admin := Require(tb, PostgresEnv, "PostgreSQL")
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL, got %q", PostgresEnv, admin)
	}
	name := UniqueName("pavtest_")
	ident := pgx.Identifier{name}.Sanitize()

	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, sql)
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("create test database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})

	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}
