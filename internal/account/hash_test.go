package account

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestHashSecretIsHexSHA256 holds the stack-buffer hashing to what every
// stored credential was hashed with, on both sides of its 128-byte copy.
func TestHashSecretIsHexSHA256(t *testing.T) {
	for _, n := range []int{0, 8, 43, 127, 128, 129, 300} {
		secret := strings.Repeat("k", n)
		sum := sha256.Sum256([]byte(secret))
		if got, want := HashSecret(secret), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%d bytes: %s, want %s", n, got, want)
		}
	}
}
