package show

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"

	"github.com/google/uuid"
)

// StreamKeyPrefix marks WHIP keys so they are recognisable in logs and leaks.
const StreamKeyPrefix = "pvk_"

// RotateStreamKey makes a new WHIP key for the show and stores its hash; the
// old key stops working at once. The key itself is returned once, never stored.
func RotateStreamKey(ctx context.Context, st Store, showID uuid.UUID) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	key := StreamKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	if err := st.SetStreamKey(ctx, showID, hashKey(key)); err != nil {
		return "", err
	}
	return key, nil
}

// CheckStreamKey reports whether key is the show's current WHIP key.
func CheckStreamKey(ctx context.Context, st Store, showID uuid.UUID, key string) (bool, error) {
	want, err := st.StreamKeyHash(ctx, showID)
	if err != nil || want == "" {
		return false, err
	}
	got := hashKey(key)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1, nil
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
