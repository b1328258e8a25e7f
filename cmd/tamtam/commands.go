package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// startApp parses the common flags already bound in cfg, builds the logger and the app.
func startApp(ctx context.Context, cfg Config, stderr io.Writer) (*App, error) {
	log, err := cfg.logger(stderr)
	if err != nil {
		return nil, err
	}
	return NewApp(ctx, cfg, log)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg Config
	fs := newFlagSet("serve", &cfg, stderr, getenv)
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "TAMTAM_ADDR", "127.0.0.1:8080"), "listen address (env TAMTAM_ADDR)")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", 20, "requests per second per token, bursts of twice that; 0 turns it off (env TAMTAM_RATE_LIMIT)")
	if v := getenv("TAMTAM_RATE_LIMIT"); v != "" {
		if err := fs.Set("rate-limit", v); err != nil {
			return usagef("serve: TAMTAM_RATE_LIMIT: %v", err)
		}
	}
	var spoolMB int64
	fs.Int64Var(&spoolMB, "spool-max-mb", 1024, "bound of the local spool in MiB; when full, submissions get 503 (env TAMTAM_SPOOL_MAX_MB)")
	if v := getenv("TAMTAM_SPOOL_MAX_MB"); v != "" {
		if err := fs.Set("spool-max-mb", v); err != nil {
			return usagef("serve: TAMTAM_SPOOL_MAX_MB: %v", err)
		}
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.RateLimit < 0 || spoolMB < 1 {
		return usagef("serve: --rate-limit must be 0 (off) or more, --spool-max-mb 1 or more")
	}
	cfg.Spool, cfg.SpoolMaxBytes = true, spoolMB<<20
	app, err := startApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	app.log.Info("listening", "addr", "http://"+ln.Addr().String(), "clickhouse", cfg.ClickHouse, "data", cfg.Data)
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	app.log.Info("shutting down")
	// Stop accepting and let in-flight requests finish; their records are committed by
	// the ingester, which app.Close drains before the store closes.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return app.Close()
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg Config
	if err := parse(newFlagSet("migrate", &cfg, stderr, getenv), args); err != nil {
		return err
	}
	// NewApp applies the migrations; a second run finds nothing to do.
	app, err := startApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	fmt.Fprintf(stdout, "schema of database %s is up to date\n", app.db.Database())
	return nil
}

func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create" {
		return usagef("token: usage: tamtam token create --role intake|coordinator|funder [--site CODE]... [--label TEXT]")
	}
	var (
		cfg   Config
		role  string
		sites stringList
		label string
	)
	fs := newFlagSet("token create", &cfg, stderr, getenv)
	fs.StringVar(&role, "role", "", "intake, coordinator or funder")
	fs.Var(&sites, "site", "site code the token is for (repeat for several; not for coordinators)")
	fs.StringVar(&label, "label", "", "who or what the token is for, e.g. 'Haren intake team'")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	r, err := collector.ParseRole(role)
	if err != nil {
		return usagef("token create: %v", err)
	}
	known, err := collector.LoadSites(cfg.SitesFile)
	if err != nil {
		return err
	}
	bearer, tok, err := collector.NewTokenFor(r, sites, label, known, time.Now())
	if err != nil {
		return usagef("token create: %v", err)
	}
	app, err := startApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.db.CreateToken(ctx, tok); err != nil {
		return err
	}
	// The bearer is printed once, alone on stdout, so it can be captured by a script;
	// only its hash is stored.
	fmt.Fprintln(stdout, bearer)
	return nil
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg  Config
		year int
		n    int
		seed uint64
	)
	fs := newFlagSet("demo", &cfg, stderr, getenv)
	fs.IntVar(&year, "year", time.Now().Year()-1, "year of the questionnaires")
	fs.IntVar(&n, "n", 1000, "number of entry questionnaires (follow-ups come in addition)")
	fs.Uint64Var(&seed, "seed", 1, "random seed; the same seed gives the same submissions, stored once")
	if err := parse(fs, args); err != nil {
		return err
	}
	now := time.Now()
	if year < 2015 || year > now.Year() || n < 1 {
		return usagef("demo: --year must be between 2015 and %d and --n positive", now.Year())
	}
	app, err := startApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	sum, err := app.storeDemo(ctx, year, n, seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo %d: %d entry and %d follow-up questionnaires: %d stored, %d already there\n",
		year, sum.entries, sum.followUps, sum.stored, sum.replayed)
	return nil
}

type demoSummary struct{ entries, followUps, stored, replayed int }

// storeDemo generates n entry questionnaires (and their follow-ups) and submits them in
// batches through the same decoding, validation and anonymisation as the API.
func (a *App) storeDemo(ctx context.Context, year, n int, seed uint64) (demoSummary, error) {
	var sum demoSummary
	gen := collector.NewDemo(year, seed, a.now())
	all := make([]string, 0, len(a.sites.All()))
	for _, s := range a.sites.All() {
		all = append(all, s.Code)
	}
	intake := collector.Principal{TokenID: "demo", Role: collector.RoleIntake, Sites: all}
	var batch []collector.Record
	flush := func() error {
		outs, err := a.ingester.Submit(ctx, batch)
		if err != nil {
			return err
		}
		for _, o := range outs {
			switch o {
			case collector.Stored:
				sum.stored++
			case collector.Replayed:
				sum.replayed++
			default:
				return fmt.Errorf("demo: a generated submission conflicts with a stored one; use another --seed")
			}
		}
		batch = batch[:0]
		return nil
	}
	add := func(body []byte) error {
		env, ferrs := collector.DecodeEnvelope(body)
		if ferrs != nil {
			return fmt.Errorf("demo: generated an invalid submission: %v", ferrs)
		}
		rec, err := a.api.Prepare(intake, env)
		if err != nil {
			return fmt.Errorf("demo: generated an invalid submission: %w (%v)", err, errorFields(err))
		}
		batch = append(batch, rec)
		if len(batch) >= 5000 {
			return flush()
		}
		return nil
	}
	for range n {
		s := gen.Next()
		if err := add(s.Body); err != nil {
			return sum, err
		}
		sum.entries++
		if s.FollowUp != nil {
			if err := add(s.FollowUp); err != nil {
				return sum, err
			}
			sum.followUps++
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func errorFields(err error) []collector.FieldError {
	var e *collector.Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
