// Package draw is the fair-draw procedure: the commitment a draw publishes
// when it opens, the winners that follow from its seed and its ordered entry
// list when it closes, and the check anyone can re-run on the published
// record (`pavilion verify-draw`). It knows nothing of stock or storage; the
// checkout package runs draws and gives the winners their holds.
//
// Procedure "pavilion-draw-v1", exactly (the README's "Fair draws" section
// says the same in prose):
//
//  1. The seed is 32 random bytes. The commitment, published when the draw
//     opens, is the lowercase hex SHA-256 of the seed bytes.
//  2. The entry list is the entry IDs (lowercase hyphenated UUIDs) in the
//     order the ledger numbered the entries; it is published with the seed
//     when the draw closes.
//  3. Random words: word c (c = 0, 1, 2, …) is the first 8 bytes, read as a
//     big-endian unsigned integer, of HMAC-SHA256 with the seed bytes as key
//     and the message "pavilion-draw-v1" followed by c as 8 big-endian bytes.
//  4. A uniform integer below k takes the next word x, and takes another
//     while x >= 2^64 − (2^64 mod k); the answer is x mod k. (Rejecting the
//     top remainder removes the bias of a plain modulo.)
//  5. With n entries and u units, w = min(u, n) winners: for i = 0 … w−1,
//     j = i + uniform(n − i), swap entries i and j. The winners are entries
//     0 … w−1 in that order (a partial Fisher–Yates shuffle).
package draw

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
)

// Procedure names this procedure in published records; a verifier refuses
// records of another.
const Procedure = "pavilion-draw-v1"

// SeedSize is the length of a seed in bytes.
const SeedSize = 32

// NewSeed returns a fresh random seed.
func NewSeed() ([]byte, error) {
	seed := make([]byte, SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("draw seed: %w", err)
	}
	return seed, nil
}

// Commitment is the hex SHA-256 of the seed, published before any entry.
func Commitment(seed []byte) string {
	sum := sha256.Sum256(seed)
	return hex.EncodeToString(sum[:])
}

// stream is the procedure's random words (step 3).
type stream struct {
	mac     hash.Hash
	counter uint64
	msg     [len(Procedure) + 8]byte
}

func newStream(seed []byte) *stream {
	s := &stream{mac: hmac.New(sha256.New, seed)}
	copy(s.msg[:], Procedure)
	return s
}

func (s *stream) word() uint64 {
	binary.BigEndian.PutUint64(s.msg[len(Procedure):], s.counter)
	s.counter++
	s.mac.Reset()
	s.mac.Write(s.msg[:])
	return binary.BigEndian.Uint64(s.mac.Sum(nil)[:8])
}

// below is a uniform integer in [0, k), k > 0 (step 4).
func (s *stream) below(k uint64) uint64 {
	// 2^64 mod k, computed in 64 bits: (2^64 − k) mod k.
	rem := (-k) % k
	for {
		x := s.word()
		if rem == 0 || x < -rem { // -rem is 2^64 − rem
			return x % k
		}
	}
}

// Winners returns the winners of a draw of units over entries (step 5):
// min(units, len(entries)) of them, in draw order. entries is not changed.
func Winners(seed []byte, entries []string, units int) []string {
	n := len(entries)
	w := min(max(units, 0), n)
	a := slices.Clone(entries)
	s := newStream(seed)
	for i := range w {
		j := i + int(s.below(uint64(n-i)))
		a[i], a[j] = a[j], a[i]
	}
	return a[:w:w]
}

// ErrNotDrawn is a record whose draw has not closed: there is no seed to check yet.
var ErrNotDrawn = errors.New("the draw has not been drawn yet: no seed to check")

// Result is what a closed draw publishes, as far as verification needs.
type Result struct {
	Procedure  string
	Commitment string
	Seed       string // hex
	Units      int
	Entries    []string
	Winners    []string
}

// Verify re-derives the winners from r's seed and entries and checks them,
// and the seed against the commitment. It returns the derived winners.
func Verify(r Result) ([]string, error) {
	if r.Procedure != Procedure {
		return nil, fmt.Errorf("procedure %q is not %q", r.Procedure, Procedure)
	}
	if r.Seed == "" {
		return nil, ErrNotDrawn
	}
	seed, err := hex.DecodeString(r.Seed)
	if err != nil || len(seed) != SeedSize {
		return nil, fmt.Errorf("the seed must be %d bytes in hex", SeedSize)
	}
	if got := Commitment(seed); got != r.Commitment {
		return nil, fmt.Errorf("the seed does not match the commitment: SHA-256(seed) = %s, committed %s", got, r.Commitment)
	}
	if dup := firstDuplicate(r.Entries); dup != "" {
		return nil, fmt.Errorf("entry %s appears twice in the entry list", dup)
	}
	want := Winners(seed, r.Entries, r.Units)
	if !slices.Equal(want, r.Winners) {
		return want, fmt.Errorf("the published winners %v are not the ones the seed draws: %v", r.Winners, want)
	}
	return want, nil
}

func firstDuplicate(list []string) string {
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		if seen[e] {
			return e
		}
		seen[e] = true
	}
	return ""
}
