package draw

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// testSeed is a fixed seed per draw number: the tests are deterministic.
func testSeed(i int) []byte {
	s := sha256.Sum256(fmt.Appendf(nil, "pavilion test seed %d", i))
	return s[:]
}

func entries(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	return out
}

// chiSquareCritical is the chi-square value a statistic exceeds with
// probability 0.001 under the null hypothesis, by the Wilson–Hilferty
// approximation (z = 3.0902).
func chiSquareCritical(df int) float64 {
	k := float64(df)
	c := 1 - 2/(9*k) + 3.0902*math.Sqrt(2/(9*k))
	return k * c * c * c
}

func chiSquare(counts map[string]int, categories int, samples int) float64 {
	exp := float64(samples) / float64(categories)
	var x float64
	seen := 0
	for _, c := range counts {
		d := float64(c) - exp
		x += d * d / exp
		seen++
	}
	// Categories never drawn count too.
	x += float64(categories-seen) * exp
	return x
}

// TestFullShuffleUniform: drawing all 4 of 4 entries is a permutation; over
// 24,000 seeded draws each of the 24 orders comes up about equally often.
func TestFullShuffleUniform(t *testing.T) {
	e := entries(4)
	const draws = 24_000
	counts := map[string]int{}
	for i := range draws {
		counts[strings.Join(Winners(testSeed(i), e, 4), ",")]++
	}
	if len(counts) != 24 {
		t.Fatalf("%d distinct orders of 4 entries, want 24", len(counts))
	}
	if x, crit := chiSquare(counts, 24, draws), chiSquareCritical(23); x > crit {
		t.Fatalf("chi-square %.1f over 24 orders exceeds %.1f (p = 0.001): the shuffle is not uniform", x, crit)
	}
}

// TestPartialDrawUniform: 3 winners of 10 entries; each of the 720 ordered
// winner lists is equally likely, so every entry has the same chance.
func TestPartialDrawUniform(t *testing.T) {
	e := entries(10)
	const draws = 72_000
	counts := map[string]int{}
	wins := map[string]int{}
	for i := range draws {
		w := Winners(testSeed(1_000_000+i), e, 3)
		if len(w) != 3 {
			t.Fatalf("%d winners, want 3", len(w))
		}
		counts[strings.Join(w, ",")]++
		for _, x := range w {
			wins[x]++
		}
	}
	if x, crit := chiSquare(counts, 720, draws), chiSquareCritical(719); x > crit {
		t.Fatalf("chi-square %.1f over 720 ordered triples exceeds %.1f (p = 0.001)", x, crit)
	}
	if x, crit := chiSquare(wins, 10, 3*draws), chiSquareCritical(9); x > crit {
		t.Fatalf("chi-square %.1f over the entries' wins exceeds %.1f (p = 0.001): %v", x, crit, wins)
	}
}

func TestWinnersCount(t *testing.T) {
	seed := testSeed(7)
	for _, c := range []struct{ n, units, want int }{{0, 5, 0}, {3, 5, 3}, {5, 5, 5}, {9, 5, 5}, {9, 0, 0}, {9, -1, 0}} {
		e := entries(c.n)
		w := Winners(seed, e, c.units)
		if len(w) != c.want {
			t.Fatalf("n=%d units=%d: %d winners, want %d", c.n, c.units, len(w), c.want)
		}
		if !slices.Equal(e, entries(c.n)) {
			t.Fatal("Winners changed its input")
		}
		seen := map[string]bool{}
		for _, x := range w {
			if seen[x] || !slices.Contains(e, x) {
				t.Fatalf("winner %s twice or not an entry", x)
			}
			seen[x] = true
		}
	}
}

// reference is the README's procedure written out again the slow way
// (math/big for the rejection bound), so the fast code is held to the text.
func reference(seed []byte, entries []string, units int) []string {
	a := slices.Clone(entries)
	var counter uint64
	word := func() *big.Int {
		m := hmac.New(sha256.New, seed)
		m.Write([]byte("pavilion-draw-v1"))
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], counter)
		counter++
		m.Write(c[:])
		return new(big.Int).SetBytes(m.Sum(nil)[:8])
	}
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	w := min(units, len(a))
	for i := 0; i < w; i++ {
		k := big.NewInt(int64(len(a) - i))
		limit := new(big.Int).Sub(two64, new(big.Int).Mod(two64, k))
		x := word()
		for x.Cmp(limit) >= 0 {
			x = word()
		}
		j := i + int(new(big.Int).Mod(x, k).Int64())
		a[i], a[j] = a[j], a[i]
	}
	return a[:w]
}

func TestMatchesReference(t *testing.T) {
	for i := range 300 {
		n := 1 + i%37
		units := 1 + i%11
		e := entries(n)
		if got, want := Winners(testSeed(i), e, units), reference(testSeed(i), e, units); !slices.Equal(got, want) {
			t.Fatalf("draw %d (n=%d, units=%d): %v, reference %v", i, n, units, got, want)
		}
	}
}

func TestVerify(t *testing.T) {
	seed := testSeed(42)
	e := entries(50)
	r := Result{Procedure: Procedure, Commitment: Commitment(seed), Seed: hex.EncodeToString(seed), Units: 7, Entries: e,
		Winners: Winners(seed, e, 7)}
	if _, err := Verify(r); err != nil {
		t.Fatalf("a true record fails: %v", err)
	}
	bad := func(name string, edit func(r *Result)) {
		t.Helper()
		c := r
		c.Entries, c.Winners = slices.Clone(r.Entries), slices.Clone(r.Winners)
		edit(&c)
		if _, err := Verify(c); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	bad("other seed", func(r *Result) { r.Seed = hex.EncodeToString(testSeed(43)) })
	bad("other commitment", func(r *Result) { r.Commitment = Commitment(testSeed(43)) })
	bad("swapped winners", func(r *Result) { r.Winners[0], r.Winners[1] = r.Winners[1], r.Winners[0] })
	bad("an entry dropped", func(r *Result) { r.Entries = r.Entries[1:] })
	bad("entries reordered", func(r *Result) { r.Entries[0], r.Entries[49] = r.Entries[49], r.Entries[0] })
	bad("an entry twice", func(r *Result) { r.Entries[1] = r.Entries[0] })
	bad("one winner fewer", func(r *Result) { r.Winners = r.Winners[:6] })
	bad("other procedure", func(r *Result) { r.Procedure = "pavilion-draw-v0" })
	bad("no seed", func(r *Result) { r.Seed = "" })
	bad("short seed", func(r *Result) { r.Seed = "abcd" })
}
