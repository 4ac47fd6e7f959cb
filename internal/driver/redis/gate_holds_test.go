package redis

import (
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestGateHoldsCoalesced asks many Holds questions at once, on two offers:
// each gets its own customer's count, and a customer who takes a unit
// before asking is always seen holding it.
func TestGateHoldsCoalesced(t *testing.T) {
	url, prefix := testinfra.Redis(t)
	g := newTestGate(t, gateClient(t, url), prefix)
	ctx := gateCtx(t)
	offers := []uuid.UUID{uuid.New(), uuid.New()}
	users := make([]uuid.UUID, 300)
	counts := map[uuid.UUID]int{}
	for i := range users {
		users[i] = uuid.New()
		if i%3 != 0 {
			counts[users[i]] = i % 3
		}
	}
	for _, o := range offers {
		if err := g.Load(ctx, o, 10_000, counts, true); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, o := range offers {
		for _, u := range users {
			wg.Go(func() {
				n, known, err := g.Holds(ctx, o, u)
				if err != nil || !known || n != counts[u] {
					t.Errorf("Holds = %d %v %v, want %d", n, known, err, counts[u])
				}
			})
			// Read-your-writes: a take then a question.
			fresh := uuid.New()
			wg.Go(func() {
				mustTakeOK(t, g, o, fresh)
				if n, _, err := g.Holds(ctx, o, fresh); err != nil || n != 1 {
					t.Errorf("Holds after a take = %d %v", n, err)
				}
			})
		}
	}
	wg.Wait()
	if _, known, err := g.Holds(ctx, uuid.New(), users[0]); err != nil || known {
		t.Fatalf("Holds on an unloaded offer: %v %v", known, err)
	}
}

func mustTakeOK(t *testing.T, g *Gate, offer, user uuid.UUID) {
	v, err := g.Take(gateCtx(t), checkout.Tap{OfferID: offer, UserID: user, Quantity: 1})
	if err != nil || v.String() != "taken" {
		t.Errorf("Take = %v %v", v, err)
	}
}
