// Package testinfra finds the real PostgreSQL and Redis servers that tests run
// against and gives each test its own database or key prefix, so runs never
// see each other's data. Outside CI a test without a server skips with a
// message naming the variable to set; under CI=true that skip is a failure.
package testinfra

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

const (
	// PostgresEnv names a PostgreSQL URL with rights to create databases,
	// e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	PostgresEnv = "PAVILION_TEST_DATABASE_URL"
	// RedisEnv names a Redis URL, e.g. redis://127.0.0.1:6379/0.
	RedisEnv = "PAVILION_TEST_REDIS_URL"
)

// InCI reports whether the tests run in CI, where no server-backed test may skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the value of the environment variable env. When it is empty
// the test skips, naming the variable; under CI=true it fails instead.
func Require(tb testing.TB, env, what string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	if InCI() {
		tb.Fatalf("%s is not set: %s tests must run in CI (CI=true)", env, what)
	}
	tb.Skipf("set %s to run the %s tests", env, what)
	return ""
}

// UniqueName returns prefix followed by random hex, for databases and key prefixes.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
