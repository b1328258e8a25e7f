package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/web"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/queries"
)

// startStore builds the logger of cfg (its flags already parsed) and opens the store:
// the part of the app every command uses; each adds what else it needs.
func startStore(ctx context.Context, cfg Config, stderr io.Writer) (*App, error) {
	log, err := cfg.logger(stderr)
	if err != nil {
		return nil, err
	}
	return openStore(ctx, cfg, log)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg Config
	fs := newFlagSet("serve", &cfg, stderr, getenv)
	fs.StringVar(&cfg.Addr, "addr", envOr(getenv, "TAMTAM_ADDR", "127.0.0.1:8080"), "listen address (env TAMTAM_ADDR)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", envOr(getenv, "TAMTAM_METRICS_ADDR", defaultMetricsAddr),
		`listen address of the Prometheus /metrics, apart from the API and without authentication; "" or off: none (env TAMTAM_METRICS_ADDR)`)
	fs.Float64Var(&cfg.RateLimit, "rate-limit", 20, "requests per second per token, bursts of twice that; 0 turns it off (env TAMTAM_RATE_LIMIT)")
	fs.IntVar(&cfg.RecordBudget, "record-budget", collector.RecordsPerMinute, "records per minute per token, whatever the requests they come in, bursts of twice that; 0 turns it off (env TAMTAM_RECORD_BUDGET)")
	if v := getenv("TAMTAM_RECORD_BUDGET"); v != "" {
		if err := fs.Set("record-budget", v); err != nil {
			return usagef("serve: TAMTAM_RECORD_BUDGET: %v", err)
		}
	}
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
	fs.StringVar(&cfg.TLSCert, "tls-cert", envOr(getenv, "TAMTAM_TLS_CERT", ""), "PEM certificate (chain) to serve HTTPS, with --tls-key (env TAMTAM_TLS_CERT)")
	fs.StringVar(&cfg.TLSKey, "tls-key", envOr(getenv, "TAMTAM_TLS_KEY", ""), "PEM private key of --tls-cert, not readable by others (env TAMTAM_TLS_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.RateLimit < 0 || cfg.RecordBudget < 0 || spoolMB < 1 {
		return usagef("serve: --rate-limit and --record-budget must be 0 (off) or more, --spool-max-mb 1 or more")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return &usageError{cliLang(getenv).T("cli.serve.tls_pair")}
	}
	cfg.MetricsAddrSet = getenv("TAMTAM_METRICS_ADDR") != "" || flagGiven(fs, "metrics-addr")
	if cfg.MetricsAddr == "off" {
		cfg.MetricsAddr = ""
	}
	if cfg.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
			return usagef("serve: --metrics-addr %q: want HOST:PORT, or off", cfg.MetricsAddr)
		}
	}
	cfg.TLS = cfg.TLSCert != ""
	cfg.Spool, cfg.SpoolMaxBytes = true, spoolMB<<20
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	var certs *web.CertReloader
	if cfg.TLS {
		// Checked before anything starts: a bad key file is one clear line, not a server
		// that fails at the first handshake.
		if certs, err = web.NewCertReloader(cfg.TLSCert, cfg.TLSKey, time.Now, log); err != nil {
			return err
		}
	}
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	// An import that crashed after its commit point is completed now, one that crashed
	// before it dropped (queries.RecoverImports), rather than at the next import.
	if rec, err := app.db.RecoverImports(ctx, queries.ImportLeaseTimeout); err != nil {
		return fmt.Errorf("serve: %w", err)
	} else if rec != (queries.ImportRecovery{}) {
		app.log.Info("imports recovered", "dropped", rec.Dropped, "completed", rec.Completed)
	}
	keys, err := collector.OpenKeyDir(filepath.Join(cfg.Data, "keys"))
	if err != nil {
		return err
	}
	stopKeys := app.keyMaintainer(keys).Start(keyMaintenanceInterval)
	defer stopKeys()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	metricsLn, err := listenMetrics(cfg, app.log)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	scheme := "http"
	serveErr := make(chan error, 2)
	var metricsSrv *http.Server
	if metricsLn != nil {
		metricsSrv = &http.Server{Handler: app.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10}
		defer metricsSrv.Close()
		go func() { serveErr <- metricsSrv.Serve(metricsLn) }()
		app.log.Info("metrics listening", "addr", "http://"+metricsLn.Addr().String()+"/metrics")
	}
	if cfg.TLS {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
		srv.ErrorLog = web.ServerErrorLog(app.log)
		// A plain-HTTP request to this port gets a 400 from net/http, never a page.
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	app.log.Info("listening", "addr", scheme+"://"+ln.Addr().String(), "clickhouse", cfg.ClickHouse, "data", cfg.Data)
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
	if metricsSrv != nil {
		// Scraped to the end: the last values are those after the requests finished.
		metricsSrv.Shutdown(shutdownCtx)
	}
	stopKeys()
	return app.Close()
}

// defaultMetricsAddr is where serve answers /metrics unless told otherwise: loopback,
// the port commonly given to a Prometheus exporter, for a scraper on the same machine.
const defaultMetricsAddr = "127.0.0.1:9464"

// listenMetrics opens the metrics listener of cfg: nil when metrics are off. An address
// the operator chose must work; the default one may be taken by another tamtam on the
// same machine (a second instance, a test), and serve then goes on without metrics,
// saying so in the log.
func listenMetrics(cfg Config, log *slog.Logger) (net.Listener, error) {
	if cfg.MetricsAddr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	switch {
	case err == nil:
		return ln, nil
	case cfg.MetricsAddrSet:
		return nil, fmt.Errorf("listen for metrics (--metrics-addr): %w", err)
	}
	log.Warn("metrics not served", "addr", cfg.MetricsAddr, "err", err,
		"hint", "the default address is taken: choose one with --metrics-addr, or off")
	return nil, nil
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var cfg Config
	l := cliLang(getenv)
	if err := parse(newFlagSet("migrate", &cfg, stderr, getenv), args); err != nil {
		return err
	}
	// Opening the store applies the migrations; a second run finds nothing to do.
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	fmt.Fprintln(stdout, l.T("cli.migrate.done", app.db.Database()))
	return nil
}

// cmdToken manages access tokens (collector.TokenAdmin): create prints a new bearer token
// once (only its hash is stored); list shows tokens by id, never the token; revoke ends
// one. Every creation and revocation is written to the audit log.
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	const usageLine = "token: usage: tamtam token create --role intake|coordinator|funder [--site CODE]... [--label TEXT] [--expires YYYY-MM-DD]" +
		" | tamtam token list [--all] | tamtam token revoke ID"
	if len(args) == 0 {
		return usagef(usageLine)
	}
	l := cliLang(getenv)
	sub, args := args[0], args[1:]
	var cfg Config
	fs := newFlagSet("token "+sub, &cfg, stderr, getenv)
	// Whoever runs the command line reaches the store directly: the actor "cli", the
	// role "operator".
	admin := func(app *App) *collector.TokenAdmin {
		return &collector.TokenAdmin{Store: app.db, Actor: "cli", Role: "operator", Now: app.now}
	}
	switch sub {
	case "create":
		var (
			role, label, expires string
			sites                stringList
		)
		fs.StringVar(&role, "role", "", "intake, coordinator or funder")
		fs.Var(&sites, "site", "site code the token is for (repeat for several; not for coordinators)")
		fs.StringVar(&label, "label", "", "who or what the token is for, e.g. 'Haren intake team'")
		fs.StringVar(&expires, "expires", "", "date YYYY-MM-DD from which the token no longer works (00:00 UTC); default: never")
		if err := parse(fs, args); err != nil {
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
		bearer, tok, err := collector.PrepareToken(r, sites, label, expires, known, time.Now())
		if err != nil {
			return usagef("token create: %v", err)
		}
		app, err := startStore(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		if err := admin(app).Create(ctx, tok); err != nil {
			var ae *collector.AuditError
			if errors.As(err, &ae) {
				return fmt.Errorf("%s: %w", l.T("cli.token.create_unaudited"), ae.Err)
			}
			return err
		}
		// The bearer is printed once, alone on stdout, so it can be captured by a script;
		// only its hash is stored. The note on stderr names it by id, for list and revoke.
		fmt.Fprintln(stdout, bearer)
		fmt.Fprintln(stderr, l.T("cli.token.created", tok.ID(), describeToken(l, tok)))
		return nil

	case "list":
		var all bool
		fs.BoolVar(&all, "all", false, "include revoked and expired tokens")
		if err := parse(fs, args); err != nil {
			return err
		}
		app, err := startStore(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		tokens, err := admin(app).List(ctx, all)
		if err != nil {
			return err
		}
		if len(tokens) == 0 {
			if all {
				fmt.Fprintln(stderr, l.T("cli.token.none"))
			} else {
				fmt.Fprintln(stderr, l.T("cli.token.none_active"))
			}
			return nil
		}
		return printTokens(stdout, tokens, app.now())

	case "revoke":
		// The id may come before or after the flags (tamtam token revoke ID --data DIR).
		var ids []string
		for {
			if err := fs.Parse(args); err == flag.ErrHelp {
				return usagef("%s: see the flags above", fs.Name())
			} else if err != nil {
				return usagef("%s: %v", fs.Name(), err)
			}
			if fs.NArg() == 0 {
				break
			}
			ids = append(ids, fs.Arg(0))
			args = fs.Args()[1:]
		}
		if len(ids) != 1 {
			return &usageError{l.T("cli.token.revoke_one")}
		}
		// Check the form before opening the store; the error never quotes the argument,
		// which may be a bearer token pasted by mistake.
		if err := collector.CheckTokenID(ids[0]); err != nil {
			return usagef("token revoke: %v", err)
		}
		app, err := startStore(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		tok, already, err := admin(app).Revoke(ctx, ids[0])
		var ae *collector.AuditError
		switch {
		case errors.Is(err, collector.ErrNoToken) || errors.Is(err, collector.ErrAmbiguousToken):
			return usagef("token revoke: %v", err)
		case errors.As(err, &ae):
			return fmt.Errorf("%s: %w", l.T("cli.token.revoke_unaudited"), ae.Err)
		case err != nil:
			return err
		case already:
			fmt.Fprintln(stdout, l.T("cli.token.already_revoked", tok.ID()))
			return nil
		}
		fmt.Fprintln(stdout, l.T("cli.token.revoked", tok.ID(), describeToken(l, tok)))
		return nil
	}
	return usagef(usageLine)
}

// describeToken says what a token is for, in the messages of create and revoke.
func describeToken(l words.Lang, tok collector.Token) string {
	scope, expiry := l.T("cli.token.all_sites"), l.T("cli.token.never_expires")
	if len(tok.Sites) > 0 {
		scope = l.T("cli.token.sites", strings.Join(tok.Sites, ","))
	}
	if !tok.ExpiresAt.IsZero() {
		expiry = l.T("cli.token.expires", tok.ExpiresAt.UTC().Format(time.DateOnly))
	}
	d := fmt.Sprintf("%s; %s; %s", tok.Role, scope, expiry)
	if tok.Label != "" {
		d += "; " + printable(tok.Label)
	}
	return d
}

// printTokens writes the tokens as a table. Its headings and cells stay in English
// whatever TAMTAM_LANG: scripts read them.
func printTokens(w io.Writer, tokens []collector.Token, now time.Time) error {
	const minute = "2006-01-02T15:04Z"
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tSITES\tLABEL\tCREATED\tEXPIRES\tREVOKED\tLAST USED")
	for _, t := range tokens {
		sites, label, expires, revoked, used := "all", "-", "never", "no", "never"
		if len(t.Sites) > 0 {
			sites = strings.Join(t.Sites, ",")
		}
		if t.Label != "" {
			label = printable(t.Label)
		}
		if !t.ExpiresAt.IsZero() {
			expires = t.ExpiresAt.UTC().Format(minute)
			if t.ExpiresAt.Equal(t.ExpiresAt.Truncate(24 * time.Hour)) {
				expires = t.ExpiresAt.UTC().Format(time.DateOnly)
			}
			if t.Expired(now) {
				expires += " (expired)"
			}
		}
		if t.Revoked {
			revoked = "yes"
		}
		if !t.LastUsed.IsZero() {
			used = t.LastUsed.UTC().Format(minute)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID(), t.Role, sites, label,
			t.CreatedAt.UTC().Format(minute), expires, revoked, used)
	}
	return tw.Flush()
}

// printable shows a control character as '?': in a label or an audit detail (a
// requested file name, …) it could rewrite the terminal or break the columns.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// cmdAudit prints the audit log, newest first: who did what, when, with what outcome.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg    Config
		since  string
		action string
		limit  int
	)
	l := cliLang(getenv)
	fs := newFlagSet("audit", &cfg, stderr, getenv)
	fs.StringVar(&since, "since", "", "only events at or after this date (YYYY-MM-DD, UTC) or time (RFC 3339)")
	fs.StringVar(&action, "action", "", "only this action, e.g. token.revoke or report.download")
	fs.IntVar(&limit, "limit", 100, "at most this many events, the newest (1 to 100000)")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := queries.AuditQuery{Action: action, Limit: limit}
	if since != "" {
		t, err := time.Parse(time.DateOnly, since)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, since); err != nil {
				return &usageError{l.T("cli.audit.bad_since", since)}
			}
		}
		q.Since = t
	}
	if limit < 1 || limit > 100_000 {
		return &usageError{l.T("cli.audit.bad_limit")}
	}
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	events, err := app.db.AuditLog(ctx, q)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		fmt.Fprintln(stderr, l.T("cli.audit.none"))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tROLE\tSITES\tACTION\tDETAIL\tOUTCOME")
	for _, e := range events {
		sites := "-"
		if len(e.Sites) > 0 {
			sites = strings.Join(e.Sites, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), printable(e.Actor), printable(e.Role),
			printable(sites), printable(e.Action), printable(e.Detail), printable(e.Outcome))
	}
	return tw.Flush()
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg  Config
		year int
		n    int
		seed uint64
	)
	l := cliLang(getenv)
	fs := newFlagSet("demo", &cfg, stderr, getenv)
	fs.IntVar(&year, "year", time.Now().Year()-1, "year of the questionnaires")
	fs.IntVar(&n, "n", 1000, "number of entry questionnaires (follow-ups, needs and activity questionnaires come in addition)")
	fs.Uint64Var(&seed, "seed", 1, "random seed; the same seed gives the same submissions, stored once")
	if err := parse(fs, args); err != nil {
		return err
	}
	now := time.Now()
	if year < 2015 || year > now.Year() || n < 1 {
		return &usageError{l.T("cli.demo.bad_args", now.Year())}
	}
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.openIngest(cfg, app.batchIngest()); err != nil {
		return err
	}
	sum, err := app.storeDemo(ctx, year, n, seed)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, l.T("cli.demo.done", year, sum.entries, sum.followUps, sum.needs, sum.activity, sum.stored, sum.replayed))
	return nil
}

type demoSummary struct{ entries, followUps, needs, activity, stored, replayed int }

// storeDemo generates n entry questionnaires (and their follow-ups), the needs and
// activity questionnaires of the same year, and submits them in batches through the same
// decoding, validation and anonymisation as the API.
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
	needs, activity := gen.FieldSurveys(n)
	for _, body := range needs {
		if err := add(body); err != nil {
			return sum, err
		}
		sum.needs++
	}
	for _, body := range activity {
		if err := add(body); err != nil {
			return sum, err
		}
		sum.activity++
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
