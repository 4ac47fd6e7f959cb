package brand

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

type recordingStore struct {
	Store
	created, updated []Brand
}

func (r *recordingStore) CreateBrand(_ context.Context, b *Brand) error {
	r.created = append(r.created, *b)
	return nil
}

func (r *recordingStore) UpdateBrand(_ context.Context, b *Brand) error {
	r.updated = append(r.updated, *b)
	return nil
}

// TestCreateAndUpdate: a brand is validated before it is stored, whoever
// makes it; a refused one is not stored.
func TestCreateAndUpdate(t *testing.T) {
	ctx := context.Background()
	st := &recordingStore{}
	for _, b := range []Brand{{Slug: "Not A Slug", Name: "Maison"}, {Slug: "maison", Name: ""}, {Slug: "maison", Name: "Maison", Website: "ftp://x"}} {
		if err := Create(ctx, st, &b); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("Create(%+v) = %v, want invalid", b, err)
		}
		if err := Update(ctx, st, &b); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("Update(%+v) = %v, want invalid", b, err)
		}
	}
	if len(st.created)+len(st.updated) != 0 {
		t.Fatalf("refused brands were stored: %+v %+v", st.created, st.updated)
	}
	b := Brand{Slug: "maison-lumiere", Name: "  Maison Lumière "}
	if err := Create(ctx, st, &b); err != nil {
		t.Fatal(err)
	}
	if len(st.created) != 1 || st.created[0].ID == uuid.Nil || st.created[0].CreatedAt.IsZero() || st.created[0].Name != b.Name {
		t.Fatalf("stored %+v", st.created)
	}
	b.Story = "Paris"
	if err := Update(ctx, st, &b); err != nil || len(st.updated) != 1 || st.updated[0].Story != "Paris" || st.updated[0].UpdatedAt.IsZero() {
		t.Fatalf("Update: %v, %+v", err, st.updated)
	}
}
