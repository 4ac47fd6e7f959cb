package sqlstore

import (
	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Issuer is a sanction's issuer as stored: NULL when unknown.
func Issuer(by uuid.UUID) any {
	if by == uuid.Nil {
		return nil
	}
	return by
}

// DrawClosedOrMissing explains why a draw took no entry: it does not exist,
// or it is closed.
func DrawClosedOrMissing(exists bool) error {
	if !exists {
		return apperr.Errorf(apperr.NotFound, "draw not found")
	}
	return apperr.Errorf(apperr.Conflict, "the draw is closed")
}
