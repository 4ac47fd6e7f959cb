package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

const verifyDrawUsage = `Usage: pavilion verify-draw [--entry ID] [--token T] <file | URL | ->

Reads a fair draw's published record — a file, the API's
GET /api/shows/{show}/draws/{draw} URL, or "-" for standard input — checks
that the seed matches the commitment published at open, and re-derives the
winners from the seed and the ordered entry list by the procedure
pavilion-draw-v1 (README, "Fair draws"). Exits non-zero when they differ.
With --entry, also says whether that entry is in the list and whether it won;
--token (a bearer token) reads the draw of a members-only show.`

// maxDrawRecord bounds what verify-draw reads: a draw of a million entries
// is about 40 MB of JSON.
const maxDrawRecord = 256 << 20

func verifyDraw(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newCommand("verify-draw", verifyDrawUsage, stdout, stderr)
	entry := c.fs.String("entry", "", "your entry `ID` (from the player, or GET …/entry)")
	token := c.fs.String("token", os.Getenv("PAVILION_TOKEN"), "a bearer `token` for a members-only show's draw (PAVILION_TOKEN)")
	// One argument follows the flags, which command.parse would refuse.
	if err := c.fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		c.printUsage(stdout)
		return err
	} else if err != nil {
		return fmt.Errorf("%w (pavilion verify-draw -h lists the flags)", err)
	}
	if c.fs.NArg() != 1 {
		c.printUsage(stderr)
		return fmt.Errorf("verify-draw takes one record: a file, a URL or -")
	}
	raw, err := readRecord(ctx, c.fs.Arg(0), *token, stdin)
	if err != nil {
		return err
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return err
	}
	if err := rec.Verify(); err != nil {
		return fmt.Errorf("draw %s does NOT verify: %w", rec.ID, err)
	}
	fmt.Fprintf(stdout, "draw %s verified: SHA-256(seed) is the commitment %s, and the seed draws these %d winners of %d entries (units %d):\n",
		rec.ID, rec.Commitment, len(rec.Winners), len(rec.Entries), rec.Units)
	for i, w := range rec.Winners {
		fmt.Fprintf(stdout, "  %d. %s\n", i+1, w)
	}
	if *entry != "" {
		id, err := uuid.Parse(strings.TrimSpace(*entry))
		if err != nil {
			return fmt.Errorf("--entry must be an entry ID (a UUID): %w", err)
		}
		switch {
		case !slices.Contains(rec.Entries, id):
			return fmt.Errorf("entry %s is NOT in the published entry list", id)
		case slices.Contains(rec.Winners, id):
			fmt.Fprintf(stdout, "entry %s is in the list and won (place %d).\n", id, slices.Index(rec.Winners, id)+1)
		default:
			fmt.Fprintf(stdout, "entry %s is in the list (place %d of %d) and was not drawn.\n", id, slices.Index(rec.Entries, id)+1, len(rec.Entries))
		}
	}
	return nil
}

func readRecord(ctx context.Context, src, token string, stdin io.Reader) ([]byte, error) {
	switch {
	case src == "-":
		return io.ReadAll(io.LimitReader(stdin, maxDrawRecord))
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetching the draw: %w", err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(io.LimitReader(res.Body, maxDrawRecord))
		if err != nil {
			return nil, fmt.Errorf("fetching the draw: %w", err)
		}
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetching the draw: %s: %s", res.Status, strings.TrimSpace(string(body)))
		}
		return body, nil
	default:
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxDrawRecord))
	}
}

// decodeRecord takes the API's answer ({"draw": {…}}) or the bare record.
func decodeRecord(raw []byte) (*checkout.DrawRecord, error) {
	var wrapped struct {
		Draw *checkout.DrawRecord `json:"draw"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, fmt.Errorf("the draw record is not JSON: %w", err)
	}
	if wrapped.Draw != nil {
		return wrapped.Draw, nil
	}
	var rec checkout.DrawRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("the draw record is not JSON: %w", err)
	}
	if rec.ID == uuid.Nil {
		return nil, fmt.Errorf("no draw record here (want the JSON of GET /api/shows/{show}/draws/{draw})")
	}
	return &rec, nil
}
