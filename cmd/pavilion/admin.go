package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/config"
	"github.com/pavilion-live/pavilion/internal/demo"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Config
	fs := newFlagSet("migrate", "Usage: pavilion migrate [flags]\n\nApplies the embedded SQL migrations to the configured database and prints the schema version.", stderr)
	cfg.RegisterStore(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openData(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d\n", v)
	return nil
}

// roleList collects repeated --role flags.
type roleList []account.Role

func (r *roleList) String() string { return fmt.Sprint(*r) }
func (r *roleList) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		role, ok := account.ParseRole(strings.TrimSpace(part))
		if !ok {
			return fmt.Errorf("unknown role %q (roles: viewer, member, host, brand_admin, admin)", part)
		}
		*r = append(*r, role)
	}
	return nil
}

const userUsage = `Usage:
  pavilion user create --email E [--name N] [--role R]... [--brand ID|SLUG]... [--password P | --password-stdin]
  pavilion user reset-password --email E [--password P | --password-stdin]
  pavilion user roles --email E --role R... [--brand ID|SLUG]...

Without a password, create and reset-password generate one and print it.
Roles: viewer, member, host, brand_admin, admin. The first platform admin:
  pavilion user create --email you@example.com --role admin`

func user(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return errors.New("user needs a subcommand")
	}
	sub := args[0]
	var (
		cfg                   config.Config
		email, name, password string
		passwordStdin         bool
		roles                 roleList
		brands                []string
	)
	fs := newFlagSet("user "+sub, userUsage, stderr)
	cfg.RegisterStore(fs)
	fs.StringVar(&email, "email", "", "the account's email")
	fs.StringVar(&name, "name", "", "display name (create)")
	fs.StringVar(&password, "password", "", "password (visible in the process list; prefer --password-stdin)")
	fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fs.Var(&roles, "role", "a role; repeat or comma-separate for several")
	fs.Func("brand", "a brand (ID or slug) a brand_admin administers; repeatable", func(v string) error {
		brands = append(brands, v)
		return nil
	})
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if email == "" {
		return errors.New("--email is required")
	}
	if passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	generated := false
	if password == "" && sub != "roles" {
		b := make([]byte, 15)
		_, _ = rand.Read(b)
		password, generated = base64.RawURLEncoding.EncodeToString(b), true
	}

	db, err := openData(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := accountService(db)
	brandIDs, err := resolveBrands(ctx, db, brands)
	if err != nil {
		return err
	}
	if len(brandIDs) > 0 && !slices.Contains(roles, account.RoleBrandAdmin) {
		roles = append(roles, account.RoleBrandAdmin)
	}

	switch sub {
	case "create":
		u, err := svc.Create(ctx, account.NewUser{Email: email, DisplayName: name, Password: password, Roles: roles, BrandIDs: brandIDs})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s) with roles %v\n", u.Email, u.ID, u.Roles)
	case "reset-password":
		if err := svc.ResetPassword(ctx, email, password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password reset for %s; its sessions and tokens are revoked\n", email)
	case "roles":
		if len(roles) == 0 {
			return errors.New("--role is required")
		}
		u, err := svc.SetRoles(ctx, email, roles, brandIDs)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s now has roles %v and administers %d brand(s)\n", u.Email, u.Roles, len(u.BrandIDs))
		return nil
	default:
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("unknown user subcommand %q", sub)
	}
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", password)
	}
	return nil
}

func resolveBrands(ctx context.Context, db database, refs []string) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	for _, ref := range refs {
		if id, err := uuid.Parse(ref); err == nil {
			if _, err := db.BrandByID(ctx, id); err != nil {
				return nil, fmt.Errorf("brand %s: %w", ref, err)
			}
			ids = append(ids, id)
			continue
		}
		b, err := db.BrandBySlug(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("brand %s: %w", ref, err)
		}
		ids = append(ids, b.ID)
	}
	return ids, nil
}

func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Config
	var asJSON bool
	fs := newFlagSet("demo", "Usage: pavilion demo [--json] [flags]\n\nSeeds the demo data (idempotent). With --json, also issues fresh bearer tokens for\nevery demo account and a new stream key for the demo show, and prints them with\nIDs and URLs as one JSON object. Works whether the server is running or not.", stderr)
	cfg.RegisterStore(fs)
	fs.BoolVar(&asJSON, "json", false, "print IDs, URLs, tokens and a fresh stream key as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	db, err := openData(ctx, &cfg, true)
	if err != nil {
		return err
	}
	defer db.Close()
	deps := demoDeps(db, accountService(db))
	if !asJSON {
		if err := demo.Seed(ctx, deps); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "demo data ready; log in as %s (or %s, %s, %s, %s) with password %q\n",
			demo.AdminEmail, demo.BrandAdminEmail, demo.HostEmail, demo.ViewerEmail, demo.MemberEmail, demo.Password)
		return nil
	}
	creds, err := demo.Issue(ctx, deps, cfg.BaseURL())
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(creds)
}
