package sqlstore

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Roles checks roles and drops repeats, keeping their order: an unknown
// role is Invalid and nothing is written.
func Roles(roles []account.Role) ([]account.Role, error) {
	for _, r := range roles {
		if _, ok := account.ParseRole(string(r)); !ok {
			return nil, apperr.Errorf(apperr.Invalid, "unknown role %q", r)
		}
	}
	return Distinct(roles), nil
}

// Distinct drops repeated values, keeping the first of each.
func Distinct[T comparable](in []T) []T {
	out := make([]T, 0, len(in))
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Strings is vs as plain strings, for a list argument.
func Strings[T ~string](vs []T) []string { return strs(vs) }

// The brand's blocked words: one JSON list a brand, replaced whole.
const (
	// BlockedWords reads brand $1's list.
	BlockedWords = `SELECT words FROM brand_blocked_words WHERE brand_id = $1`
	// SetBlockedWords stores list $2 for brand $1 at $3; each dialect
	// spells the list's type at {words}.
	setBlockedWords = `INSERT INTO brand_blocked_words (brand_id, words, updated_at) VALUES ($1, {words}, $3)
		 ON CONFLICT (brand_id) DO UPDATE SET words = excluded.words, updated_at = excluded.updated_at`
)

// SetBlockedWords is the statement that stores a brand's list, spelled in d.
func (d Dialect) SetBlockedWords() string {
	return strings.Replace(setBlockedWords, "{words}", d.JSONParam("$2"), 1)
}

// WordsJSON encodes a blocked-word list for storing: [] for none.
func WordsJSON(words []string) (string, error) {
	if words == nil {
		words = []string{}
	}
	b, err := json.Marshal(words)
	return string(b), err
}

// Words reads a brand's list from the row of BlockedWords: no row (noRows,
// the driver's error for it) is an empty list, never nil.
func (s Scanner) Words(r Row, noRows error) ([]string, error) {
	words := []string{}
	err := r.Scan(s.JSON(&words))
	if errors.Is(err, noRows) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	if words == nil {
		words = []string{}
	}
	return words, nil
}
