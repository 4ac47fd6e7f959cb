package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
)

// BenchmarkCredentialWithUser is what authenticating a request costs when
// the credential cache misses (every buyer's first tap of a burst, then one
// tap in each 5 s): one credential and its user read by hash, among 5,000
// buyers with a token each.
func BenchmarkCredentialWithUser(b *testing.B) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "pavilion.db"))
	now := time.Now().UTC()
	const buyers = 5000
	hashes := make([]string, buyers)
	for i := range buyers {
		u := &account.User{ID: uuid.New(), Email: fmt.Sprintf("buyer%d@example.com", i), DisplayName: "Buyer", Roles: []account.Role{account.RoleViewer}, CreatedAt: now}
		if err := db.CreateUser(ctx, u, ""); err != nil {
			b.Fatal(err)
		}
		hashes[i] = account.HashSecret(fmt.Sprintf("pvt_buyer-%d-secret", i))
		c := &account.Credential{ID: uuid.New(), Hash: hashes[i], UserID: u.ID, Kind: account.KindToken, Name: "bench", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateCredential(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := db.CredentialWithUser(ctx, hashes[(i*7919)%buyers], now); err != nil {
			b.Fatal(err)
		}
	}
}
