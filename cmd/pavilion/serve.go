package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/config"
	"github.com/pavilion-live/pavilion/internal/crashguard"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/s3"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/record"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/wallet"
	"github.com/pavilion-live/pavilion/stream"
	"github.com/pavilion-live/pavilion/web"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg config.Config
	c := newCommand("serve", "Usage: pavilion serve [flags]\n\nRuns the Pavilion server. With no database or Redis URL it runs embedded:\na SQLite file under --data-dir and an in-process bus.", stdout, stderr)
	cfg.RegisterServe(c.fs)
	if err := c.parse(args); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	log := newLogger(&cfg, stderr)

	db, storeName, err := openDatabase(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.Migrate {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate %s: %w", storeName, err)
		}
	}
	// With --migrate=false the schema is someone else's job; a schema behind
	// the binary would answer every request 500, so refuse to start instead.
	if err := checkSchema(ctx, db, storeName); err != nil {
		return err
	}
	version, err := db.Version(ctx)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	hot, err := openHot(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer hot.close()
	log.Info("storage ready", "store", storeName, "schema_version", version, "bus", hot.name)

	accounts := accountService(db)
	accounts.Logger = log
	if cfg.Demo {
		if err := demo.Seed(ctx, demoDeps(db, accounts)); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	pay := &testpay.Provider{}
	shop := &checkout.Service{
		Catalog: db, Ledger: db, Gate: hot.gate, Shows: db, Payments: pay,
		Metrics: checkout.NewMetrics(reg), Logger: log, HoldTTL: cfg.HoldTTL, PaymentTimeout: cfg.PaymentTimeout,
		DrawStore: db, Coupons: db, Follows: db,
	}
	if cfg.DatabaseURL != "" {
		// PostgreSQL writes batches of different offers in parallel; SQLite
		// has one writer, where one lane makes the biggest batches.
		shop.HoldLanes = 4
	}
	draws := &checkout.Draws{Checkout: shop, Store: db}
	live := &chat.Hub{
		Bus: hot.bus, Shows: db, Catalog: db, Checkout: shop, Store: db, Users: db, Privacy: db, Logger: log, Registry: reg,
		Archive: db, ChatRetention: cfg.ChatRetention, Draws: draws,
		Caller:      func(r *http.Request) *account.Principal { return web.PrincipalFrom(r.Context()) },
		Credentials: accounts,
	}
	shop.Notifier = live
	// Sockets end with their credentials: the account service tells the
	// live room of every log-out, revocation, reset and role change.
	accounts.Notifier = live
	// The show lifecycle: scheduling in the platform's time zone, going live,
	// ending, cancelling (which releases holds through checkout); the live
	// room hears every change.
	zone, err := cfg.Location()
	if err != nil {
		return err
	}
	shows := &show.Service{Store: db, Users: db, Brands: db, Zone: zone, Holds: shop, Notifier: live, Logger: log}
	live.Lifecycle = shows
	// Live-room figures are counted in memory and written every few seconds.
	stats := &analytics.Recorder{Store: db, Logger: log}
	live.Analytics, live.SecureCookies = stats, cfg.SecureCookies
	// Replays: shows recorded on the node that ingests them; files a node
	// killed mid-show left behind are finished now.
	var replays *replay.Service
	var recorder *record.Recorder
	if dir := cfg.RecordingsDir(); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("recordings directory: %w", err)
		}
		recorder = &record.Recorder{Dir: dir, Logger: log}
		var files replay.Files = recorder
		if raw := cfg.RecordingsBucket(); raw != "" {
			// A bucket: files are written in the directory (the spool) and
			// stored in the bucket once complete.
			loc, err := s3.ParseLocation(raw)
			if err != nil {
				return fmt.Errorf("--recordings: %w", err)
			}
			bucket, err := s3.Open(ctx, loc, s3.Options{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region}, recorder, log)
			if err != nil {
				return fmt.Errorf("--recordings: %w", err)
			}
			files = bucket
		}
		replays = &replay.Service{Store: db, Shows: db, Files: files, Logger: log}
		recorder.Allow = replays.Recordable
		recorder.Started = func(ctx context.Context, f record.File) error {
			return replays.Started(ctx, replay.Recording{ID: f.ID, ShowID: f.ShowID, Path: f.Path, MediaType: f.MediaType, Role: f.Role,
				StartedAt: f.StartedAt})
		}
		recorder.Finished = func(ctx context.Context, f record.File) error {
			ended := f.EndedAt
			return replays.Finished(ctx, replay.Recording{ID: f.ID, ShowID: f.ShowID, Path: f.Path, MediaType: f.MediaType,
				Role: f.Role, StartedAt: f.StartedAt, EndedAt: &ended, DurationMS: f.Duration.Milliseconds(), Bytes: f.Bytes})
		}
		if n, err := replays.RepairUnfinished(ctx); err != nil {
			log.Warn("repairing recordings", "err", err)
		} else if n > 0 {
			log.Info("recordings repaired", "count", n)
		}
		if n, err := replays.StoreLeftovers(ctx); err != nil {
			log.Warn("storing recordings left in the spool", "err", err)
		} else if n > 0 {
			log.Info("recordings left in the spool stored", "count", n)
		}
		// A node that died while joining a show's files left them apart:
		// join them now (a join under way on another node is left to it).
		if n, err := replays.JoinUnjoined(ctx); err != nil {
			log.Warn("joining recordings left unjoined", "err", err)
		} else if n > 0 {
			log.Info("recordings left unjoined joined", "count", n)
		}
		shop.Replays = replays
		live.Timeline = db
	}
	// Lost intents (sold out, expired holds, declined cards…) are counted
	// where checkout decides them, through the same recorder.
	shop.Intents = stats
	// Holds won from a replay make its sales, counted apart from live ones.
	shop.ReplayHolds = stats
	media := &stream.Server{
		UDPAddr:    net.JoinHostPort(cfg.MediaAddr, strconv.Itoa(cfg.MediaPort)),
		PublicIPs:  cfg.PublicIPs(),
		ICEServers: iceServers(&cfg),
		EndGrace:   cfg.EndGrace,
		Metrics:    stream.NewMetrics(reg),
		Logger:     log,
		// A right key for an ended or cancelled show still stays off air.
		Keys: shows.PublishWithKey,
		// Publishing is what turns a show live, and its end (after the grace
		// period) what ends it; the show service tells the live room and the
		// notify-me subscribers.
		OnLive:  func(id uuid.UUID) { lifecycle(ctx, log, "live", id, shows.GoLive) },
		OnEnded: func(id uuid.UUID) { lifecycle(ctx, log, "ended", id, shows.End) },
		Viewer: func(r *http.Request, showID uuid.UUID) error {
			return shows.CheckViewer(r.Context(), web.UserFrom(r.Context()), showID)
		},
	}
	if recorder != nil {
		media.Recorder = recorder
	}
	// Co-hosts: a guest publishes beside the host with a key the host's
	// invite was traded for; the live room hears the stage change, and a
	// removal ends the guest's broadcast on every node.
	guests := &cohost.Service{Store: db.Cohosts(), Shows: db, Notifier: live, Media: media, Bus: cohostBus{hot.bus}, Logger: log}
	media.Guests = guests.PublishAsGuest
	media.OnGuest = func(id uuid.UUID, on bool) {
		if on {
			guests.GuestLive(ctx, id)
		} else {
			guests.GuestGone(ctx, id)
		}
	}
	if err := media.Start(); err != nil {
		return err
	}
	defer media.Close()
	proxies, err := cfg.ProxyPrefixes()
	if err != nil {
		return err
	}
	srv := &web.Server{
		Accounts: accounts, Brands: db, Shows: db, Schedule: shows, Catalog: db, Checkout: shop, Live: live, Media: media, Analytics: stats,
		Draws:          draws,
		Images:         &images.Service{Store: db},
		Wallet:         &wallet.Service{Store: db, Methods: pay, Provider: "test"},
		Follows:        db,
		Replays:        replays,
		Cohosts:        guests,
		ReplayViews:    stats,
		Chat:           &chat.History{Archive: db, Shows: db},
		Checks:         []web.Check{{Name: "store", Ping: db.Ping}, {Name: "bus", Ping: hot.bus.Ping}},
		Schema:         func(ctx context.Context) (web.Schema, error) { return schemaOf(ctx, db) },
		Registry:       reg,
		Logger:         log,
		PublicURL:      cfg.PublicURL,
		SecureCookies:  cfg.SecureCookies,
		TrustedProxies: proxies,
	}
	// The studio page publishes as its signed-in host, without the stream key.
	media.Host = srv.PublishAsHost
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests must outlive the signal: Shutdown lets them finish, and a
		// request cancelled mid-order would only turn into a 500.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	if cfg.PublicURL == "" {
		// With --http :0 the kernel picks the port; print the real one.
		cfg.HTTPAddr = ln.Addr().String()
	}
	var metricsSrv *http.Server
	metricsErr := make(chan error, 1)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on --metrics-addr %s: %w", cfg.MetricsAddr, err)
		}
		cfg.MetricsAddr = mln.Addr().String() // the real port, for the banner
		metricsSrv = &http.Server{Handler: web.MetricsHandler(reg), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { metricsErr <- metricsSrv.Serve(mln) }()
		log.Info("metrics", "addr", cfg.MetricsAddr)
	}
	mediaAddr := net.JoinHostPort(cfg.MediaAddr, strconv.Itoa(media.MediaPort()))
	if cfg.MediaAddr == "" {
		mediaAddr = fmt.Sprintf("port %d on every interface", media.MediaPort())
	}
	// A phone on the same network reaches a server listening on every
	// interface at this machine's own addresses, not at localhost.
	var lan []string
	if cfg.PublicURL == "" {
		lan = lanURLs(cfg.HTTPAddr, machineNICs())
	}
	if cfg.LogFormat == "json" {
		// Every line is JSON: the banner is a record of the log like any
		// other, written whatever --log-level says (handed to the handler,
		// past the logger's level check), as the text banner is.
		rec := slog.NewRecord(time.Now(), slog.LevelInfo, "Pavilion is running at "+cfg.BaseURL(), 0)
		rec.AddAttrs(slog.String("url", cfg.BaseURL()), slog.String("http", cfg.HTTPAddr), slog.String("media", mediaAddr), slog.Bool("demo", cfg.Demo))
		if len(lan) > 0 {
			rec.AddAttrs(slog.Any("lan", lan))
		}
		_ = log.Handler().Handle(ctx, rec)
	} else {
		printBanner(stdout, &cfg, mediaAddr, lan)
	}
	if err := media.Join(hot.dir, stream.Node{ID: uuid.NewString(), URL: nodeURL(&cfg, ln.Addr()), StartedAt: time.Now().UTC(), RelayFanout: cfg.RelayFanout}, cfg.ClusterSecret); err != nil {
		return err
	}
	if hot.name == "redis" && cfg.ClusterSecret == "" {
		log.Warn("no --cluster-secret: this node serves only the shows published on it; viewers of shows published on other nodes get 404")
	}

	if cfg.DebugAddr != "" {
		go serveDebug(ctx, log, cfg.DebugAddr)
	}
	// The node's background loops recover from a panic, counted, and start
	// again (keepRunning), as the live room's and the media server's do.
	loops := crashguard.New(reg, log)
	go keepRunning(ctx, loops, "credential_sweeper", func(ctx context.Context) { sweepCredentials(ctx, log, db) })
	// Verified credentials are kept for minutes while the change log is
	// read every second: a revocation anywhere reaches this node in about
	// a second, and a drop's crowd taps without a store read each.
	go keepRunning(ctx, loops, "account_changes", func(ctx context.Context) { accounts.FollowChanges(ctx, time.Second) })
	// Credentials' last-use times are written in batches, not per request;
	// the last batch on the way out, before the database closes.
	go keepRunning(ctx, loops, "credential_usage", func(ctx context.Context) { accounts.Run(ctx, 30*time.Second) })
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := accounts.FlushUsage(flushCtx); err != nil {
			log.Warn("recording credential use at shutdown", "err", err)
		}
	}()
	// Holds expire and unknown payments settle even if the node restarted
	// mid-sale: the sweeper reads the ledger, not memory.
	go keepRunning(ctx, loops, "checkout_sweeper", func(ctx context.Context) { shop.Run(ctx, time.Second) })
	// Draws close on whichever node sweeps first after their window (the
	// ledger's claim lets one of them draw each): a node that opened a draw
	// and died leaves nothing behind.
	go keepRunning(ctx, loops, "draw_sweeper", func(ctx context.Context) { draws.Run(ctx, 250*time.Millisecond) })
	if hot.name == "redis" {
		// A ledger restored from a backup is behind the gate in Redis, which
		// then calls offers sold out that have stock: find and reload them.
		loops.Go("gate_check", func() { checkGates(ctx, log, db, shop) }) // once: a panic is counted, not retried
	}
	go live.Run(ctx)
	go keepRunning(ctx, loops, "cohost_removals", func(ctx context.Context) { runCohosts(ctx, log, guests) })
	// Chat lines still waiting for the database are written on the way
	// out, before it closes.
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := live.Close(flushCtx); err != nil {
			log.Error("archiving chat at shutdown", "err", err)
		}
	}()
	go keepRunning(ctx, loops, "analytics_flush", stats.Run)
	// Figures counted since the last flush are written on the way out, even
	// when the HTTP shutdown fails; before the database closes (defers run last first).
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stats.Close(flushCtx); err != nil {
			log.Error("writing analytics at shutdown", "err", err)
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case err := <-metricsErr:
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Metrics stay up while requests drain, so a scrape sees the drain; they
	// stop with the rest.
	if metricsSrv != nil {
		defer func() { _ = metricsSrv.Shutdown(shutCtx) }()
	}
	if err := httpSrv.Shutdown(shutCtx); err != nil {
		// Time is up: the requests still running get a 503 they can retry,
		// not a cut connection (those whose answer had begun are cut).
		n := srv.AbandonInFlight()
		_ = httpSrv.Close()
		log.Error("shutdown timed out", "timeout", cfg.ShutdownTimeout, "answered_503", n)
		return fmt.Errorf("shutdown: requests still running after --shutdown-timeout %s (%d answered 503): %w", cfg.ShutdownTimeout, n, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// checkGates compares the stock gates of the offers on sale with the ledger
// once at start and reloads those that stay different (see
// checkout.Service.CheckGates).
func checkGates(ctx context.Context, log *slog.Logger, db database, shop *checkout.Service) {
	ids, err := showsOnSale(ctx, db)
	if err == nil {
		var n int
		n, err = shop.CheckGates(ctx, ids, 3*time.Second)
		if n > 0 {
			log.Warn("the stock gate disagreed with the ledger (restored from a backup?); reloaded it from the ledger", "offers", n)
		}
	}
	if err != nil && ctx.Err() == nil {
		log.Warn("checking the stock gates against the ledger", "err", err)
	}
}

func printBanner(w io.Writer, cfg *config.Config, media string, lan []string) {
	base := cfg.BaseURL()
	fmt.Fprintf(w, "\nPavilion is running at %s\n", base)
	fmt.Fprintf(w, "  health   %s/healthz   API %s/api/openapi.json\n", base, base)
	fmt.Fprintf(w, "  media    %s (UDP and TCP, reached by browsers directly)\n", media)
	if cfg.MetricsAddr != "" {
		fmt.Fprintf(w, "  metrics  http://%s/metrics (--metrics-addr: keep it private)\n", cfg.MetricsAddr)
	}
	if !cfg.Demo {
		printLAN(w, lan, "")
	}
	if cfg.Demo {
		fmt.Fprintf(w, "  watch    %s/shows/%s\n", base, demo.ShowID)
		fmt.Fprintf(w, "  studio   %s/studio/%s\n", base, demo.ShowID)
		fmt.Fprintf(w, "  brand    %s/brand\n", base)
		printLAN(w, lan, "/shows/"+demo.ShowID.String())
		fmt.Fprintf(w, "  demo logins (password %q):\n", demo.Password)
		for _, l := range [][2]string{
			{"admin", demo.AdminEmail}, {"brand admin", demo.BrandAdminEmail}, {"host", demo.HostEmail},
			{"viewer", demo.ViewerEmail}, {"member", demo.MemberEmail},
		} {
			fmt.Fprintf(w, "    %-12s %s\n", l[0], l[1])
		}
		fmt.Fprintln(w, "  tokens and a stream key for scripts: pavilion demo --json")
	}
	fmt.Fprintln(w)
}

// printLAN prints where a phone on the same network opens page.
func printLAN(w io.Writer, lan []string, page string) {
	if len(lan) == 0 {
		return
	}
	fmt.Fprintln(w, "  on a phone or another computer on the same network (README: \"On a phone\"):")
	for _, u := range lan {
		fmt.Fprintf(w, "           %s%s\n", u, page)
	}
}

// sweepCredentials deletes expired sessions and tokens hourly so the table
// does not grow without bound (expired ones are already refused on use),
// and the account change log's entries older than an hour (every node
// reads it each second; a cached credential lives 10 minutes).
func sweepCredentials(ctx context.Context, log *slog.Logger, db database) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := time.Now().UTC()
		n, err := db.DeleteExpiredCredentials(ctx, now)
		if err != nil && ctx.Err() == nil {
			log.Warn("sweeping expired credentials", "err", err)
		} else if n > 0 {
			log.Info("swept expired credentials", "count", n)
		}
		if _, err := db.PruneAccountChanges(ctx, now.Add(-time.Hour)); err != nil && ctx.Err() == nil {
			log.Warn("pruning the account change log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serveDebug serves pprof on its own listener, never on the public one.
func serveDebug(ctx context.Context, log *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("debug profiles", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("debug listener", "err", err)
	}
}

// iceServers turns --ice-servers into pion's form; TURN URLs get the TURN credentials.
func iceServers(cfg *config.Config) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, u := range cfg.ICEServers() {
		is := webrtc.ICEServer{URLs: []string{u}}
		if strings.HasPrefix(u, "turn") {
			is.Username, is.Credential = cfg.TURNUsername, cfg.TURNCredential
		}
		out = append(out, is)
	}
	return out
}

// nodeURL is where the other nodes reach this one: --node-url, else the
// public IP (or loopback) with the port actually listened on.
func nodeURL(cfg *config.Config, addr net.Addr) string {
	if cfg.NodeURL != "" {
		return strings.TrimRight(cfg.NodeURL, "/")
	}
	host := "127.0.0.1"
	if ips := cfg.PublicIPs(); len(ips) > 0 {
		host = ips[0]
	}
	port := "8080"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	return "http://" + net.JoinHostPort(host, port)
}

// lifecycle moves a show's state for the media server. A show already in
// that state (a host reconnecting to another node, two nodes racing) is not
// an error worth more than a debug line.
func lifecycle(ctx context.Context, log *slog.Logger, what string, id uuid.UUID, move func(context.Context, uuid.UUID) (*show.Show, error)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := move(ctx, id); err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			log.Debug("show state unchanged", "show", id, "to", what, "err", err)
			return
		}
		log.Error("moving show state", "show", id, "to", what, "err", err)
	}
}
