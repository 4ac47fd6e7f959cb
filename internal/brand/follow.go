package brand

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Follows persists who follows which brand. The ledger keeps them: a brand's
// followers are the audience its notices and calendar reach.
type Follows interface {
	// Follow records that the user follows the brand; a repeat changes
	// nothing. A missing brand is NotFound.
	Follow(ctx context.Context, brandID, userID uuid.UUID, at time.Time) error
	// Unfollow forgets it; not following is not an error.
	Unfollow(ctx context.Context, brandID, userID uuid.UUID) error
	// Following reports whether the user follows the brand.
	Following(ctx context.Context, brandID, userID uuid.UUID) (bool, error)
	// Followers counts the brand's followers.
	Followers(ctx context.Context, brandID uuid.UUID) (int, error)
	// Followed lists the brands the user follows, the first followed first.
	Followed(ctx context.Context, userID uuid.UUID) ([]Brand, error)
}
