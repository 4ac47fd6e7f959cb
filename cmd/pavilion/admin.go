package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/config"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/show"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Config
	c := newCommand("migrate", "Usage: pavilion migrate [flags]\n\nApplies the embedded SQL migrations to the configured database and prints the store and\nthe schema version.", stdout, stderr)
	cfg.RegisterStore(c.fs)
	if err := c.parse(args); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	db, err := openData(ctx, &cfg, stdout)
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
Roles: viewer, member, host, brand_admin, admin. A --brand makes the account
its brand_admin; "roles" replaces the roles, and keeps the brands a brand_admin
already administers unless --brand names others. The first platform admin:
  pavilion user create --email you@example.com --role admin`

func user(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, userUsage)
		return errors.New("user needs a subcommand: create, reset-password or roles")
	}
	sub := args[0]
	if isHelp(sub) {
		fmt.Fprintln(stdout, userUsage)
		return flag.ErrHelp
	}
	switch sub {
	case "create", "reset-password", "roles":
	default:
		fmt.Fprintln(stderr, userUsage)
		return fmt.Errorf("unknown user subcommand %q (create, reset-password or roles)", sub)
	}
	var (
		cfg                   config.Config
		email, name, password string
		passwordStdin         bool
		roles                 roleList
		brands                []string
	)
	c := newCommand("user "+sub, userUsage, stdout, stderr)
	fs := c.fs
	cfg.RegisterStore(fs)
	fs.StringVar(&email, "email", "", "the account's email")
	if sub == "create" {
		fs.StringVar(&name, "name", "", "display name")
	}
	if sub != "roles" {
		fs.StringVar(&password, "password", "", "password (visible in the process list; prefer --password-stdin)")
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	if sub != "reset-password" {
		fs.Var(&roles, "role", "a role; repeat or comma-separate for several")
		fs.Func("brand", "a brand (ID or slug) a brand_admin administers; repeatable", func(v string) error {
			brands = append(brands, v)
			return nil
		})
	}
	if err := c.parse(args[1:]); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	if email == "" {
		return fmt.Errorf("--email is required (pavilion user %s -h lists the flags)", sub)
	}
	if sub == "roles" && len(roles) == 0 {
		return errors.New("--role is required")
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

	db, err := openData(ctx, &cfg, stdout)
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
		u, err := svc.SetRoles(ctx, email, roles, brandIDs)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s now has roles %v and administers %d brand(s)\n", u.Email, u.Roles, len(u.BrandIDs))
		return nil
	}
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", password)
	}
	return nil
}

// oneSubcommand checks that args start with the command's one subcommand,
// sub: -h prints the usage on stdout; anything else is named as unknown.
func oneSubcommand(cmd, sub, usage string, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 0:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%s needs a subcommand: %s", cmd, sub)
	case isHelp(args[0]):
		fmt.Fprintln(stdout, usage)
		return flag.ErrHelp
	case args[0] != sub:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown %s subcommand %q (%s)", cmd, args[0], sub)
	}
	return nil
}

const brandUsage = `Usage:
  pavilion brand create --slug S --name N [--website URL] [flags]

Creates a brand, so the first brand admin can be given one before anyone
uses the API (later brands: POST /api/brands as a platform admin).`

func brandCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := oneSubcommand("brand", "create", brandUsage, args, stdout, stderr); err != nil {
		return err
	}
	var cfg config.Config
	var b brand.Brand
	c := newCommand("brand create", brandUsage, stdout, stderr)
	cfg.RegisterStore(c.fs)
	c.fs.StringVar(&b.Slug, "slug", "", "the brand's URL name: lower-case letters, digits and dashes (e.g. maison-lumiere)")
	c.fs.StringVar(&b.Name, "name", "", "the brand's display name")
	c.fs.StringVar(&b.Website, "website", "", "the brand's website (https://…)")
	if err := c.parse(args[1:]); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	// Bad flags are refused before the database is opened (brand.Create
	// checks them again).
	if err := brand.Validate(&b); err != nil {
		return fmt.Errorf("%w (pavilion brand create -h lists the flags)", err)
	}
	db, err := openData(ctx, &cfg, stdout)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := brand.Create(ctx, db, &b); err != nil {
		return fmt.Errorf("brand %s: %w", b.Slug, err)
	}
	fmt.Fprintf(stdout, "created brand %s (%s) %q\n", b.Slug, b.ID, b.Name)
	return nil
}

const gateUsage = `Usage:
  pavilion gate reset [flags]

Overwrites the stock gate in Redis of every offer of every scheduled or live
show with what the ledger holds. Run it after restoring the database from a
backup: the gate otherwise remembers sales the restored ledger does not hold
(offers "sold out" that have stock) until the nodes correct it themselves.`

func gateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := oneSubcommand("gate", "reset", gateUsage, args, stdout, stderr); err != nil {
		return err
	}
	var cfg config.Config
	c := newCommand("gate reset", gateUsage, stdout, stderr)
	cfg.RegisterStore(c.fs)
	cfg.RegisterRedis(c.fs)
	if err := c.parse(args[1:]); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		return errors.New("gate reset needs --redis-url (PAVILION_REDIS_URL): an embedded node's in-process gate starts from the ledger on every start")
	}
	db, err := openData(ctx, &cfg, stdout)
	if err != nil {
		return err
	}
	defer db.Close()
	hot, err := openHot(ctx, &cfg, newLogger(&cfg, stderr))
	if err != nil {
		return err
	}
	defer hot.close()
	ids, err := showsOnSale(ctx, db)
	if err != nil {
		return err
	}
	shop := &checkout.Service{Catalog: db, Ledger: db, Gate: hot.gate, Shows: db}
	n, err := shop.ReloadGates(ctx, ids)
	if err != nil {
		return fmt.Errorf("gate reset: %w", err)
	}
	fmt.Fprintf(stdout, "reloaded the stock gate of %d offer(s) in %d scheduled or live show(s) from the ledger\n", n, len(ids))
	return nil
}

// showsOnSale lists the scheduled and live shows: those whose offers have a
// stock gate.
func showsOnSale(ctx context.Context, db database) ([]uuid.UUID, error) {
	const pageSize = 200
	var ids []uuid.UUID
	for offset := 0; ; offset += pageSize {
		page, err := db.ListShows(ctx, show.Filter{States: []show.State{show.Scheduled, show.Live}, IncludeMembers: true, Offset: offset, Limit: pageSize})
		if err != nil {
			return nil, err
		}
		for _, sh := range page {
			ids = append(ids, sh.ID)
		}
		if len(page) < pageSize {
			return ids, nil
		}
	}
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
	c := newCommand("demo", "Usage: pavilion demo [--json] [flags]\n\nSeeds the demo data (idempotent). With --json, also issues fresh bearer tokens for\nevery demo account and a new stream key for the demo show, and prints them with\nIDs and URLs as one JSON object (the store used goes to stderr). Works whether the\nserver is running or not.", stdout, stderr)
	cfg.RegisterStore(c.fs)
	c.fs.BoolVar(&asJSON, "json", false, "print IDs, URLs, tokens and a fresh stream key as JSON")
	if err := c.parse(args); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	// stdout is the JSON document with --json: the store line goes aside.
	storeOut := stdout
	if asJSON {
		storeOut = stderr
	}
	db, err := openData(ctx, &cfg, storeOut)
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
