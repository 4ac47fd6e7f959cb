package brand

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Create validates a new brand, gives it its ID and times, and stores it:
// the HTTP API and the command line make brands this one way.
func Create(ctx context.Context, st Store, b *Brand) error {
	if err := Validate(b); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	b.ID, b.CreatedAt, b.UpdatedAt = uuid.New(), now, now
	return st.CreateBrand(ctx, b)
}

// Update validates an edited brand and stores it.
func Update(ctx context.Context, st Store, b *Brand) error {
	if err := Validate(b); err != nil {
		return err
	}
	b.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	return st.UpdateBrand(ctx, b)
}
