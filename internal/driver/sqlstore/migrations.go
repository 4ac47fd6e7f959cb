package sqlstore

import (
	"context"
	"path"

	"github.com/pressly/goose/v3"
)

// Pending lists the migrations p carries that its database has not applied
// (their file names, oldest first).
func Pending(ctx context.Context, p *goose.Provider) ([]string, error) {
	st, err := p.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range st {
		if s.State == goose.StatePending {
			out = append(out, path.Base(s.Source.Path))
		}
	}
	return out, nil
}

// Latest is the version of the newest migration p carries, 0 when none.
func Latest(p *goose.Provider) int64 {
	src := p.ListSources()
	if len(src) == 0 {
		return 0
	}
	return src[len(src)-1].Version
}
