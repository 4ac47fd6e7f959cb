package media

import (
	"errors"
	"strings"

	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

// flagProblems collects what is wrong with a run's flags, so that they are
// all refused at once.
type flagProblems []string

func (p *flagProblems) need(ok bool, msg string) {
	if !ok {
		*p = append(*p, msg)
	}
}

func (p flagProblems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// needTarget starts the checks of a media run's flags with what both need:
// a server and a show.
func needTarget(c *scenario.Common) flagProblems {
	var p flagProblems
	p.need(c.Base != "", "--base (or --demo) is required")
	p.need(c.ShowID != "", "--show (or --demo) is required")
	return p
}
