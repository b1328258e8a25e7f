package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
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
		return usagef("serve: --tls-cert and --tls-key go together: give both (HTTPS) or neither (plain HTTP, behind a TLS proxy)")
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
	var certs *certReloader
	if cfg.TLS {
		// Checked before anything starts: a bad key file is one clear line, not a server
		// that fails at the first handshake.
		var err error
		if certs, err = newCertReloader(cfg.TLSCert, cfg.TLSKey, time.Now); err != nil {
			return err
		}
	}
	app, err := startApp(ctx, cfg, stderr)
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
	stopKeys := app.startKeyMaintenance(keys, keyMaintenanceInterval)
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
		certs.log = app.log
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
		srv.ErrorLog = log.New(serverErrorLog{app.log}, "", 0)
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

// serverErrorLog takes net/http's own error lines into the structured log. A failed TLS
// handshake (a scanner, a client speaking plain HTTP, an old TLS version) is routine on a
// server facing a network: debug; anything else is a warning.
type serverErrorLog struct{ log *slog.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		l.log.Debug("tls handshake failed", "err", msg)
	} else {
		l.log.Warn("http server", "err", msg)
	}
	return len(p), nil
}

// certReloader serves the certificate of --tls-cert and --tls-key, and loads them again
// when either file changes (a renewal), checked at most every 10 s on a handshake; a
// renewal that fails to load is logged and the previous certificate kept.
type certReloader struct {
	certFile, keyFile string
	now               func() time.Time
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // digest of the files loaded
	checked time.Time
}

func newCertReloader(certFile, keyFile string, now func() time.Time) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, now: now, log: slog.New(slog.DiscardHandler)}
	cert, stamp, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.stamp, r.checked = cert, stamp, now()
	return r, nil
}

func (r *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= 10*time.Second {
		r.checked = now
		if stamp, err := fileStamp(r.certFile, r.keyFile); err == nil && stamp != r.stamp {
			cert, stamp, err := loadKeyPair(r.certFile, r.keyFile)
			if err != nil {
				r.log.Error("tls certificate not reloaded; serving the previous one", "err", err)
				r.stamp = stamp // do not retry until the files change again
			} else {
				r.cert, r.stamp = cert, stamp
				r.log.Info("tls certificate reloaded", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// loadKeyPair loads a certificate and its key, refusing a key file that others can read
// (its group may: Debian's ssl-cert group reads keys in /etc/ssl/private).
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, string, error) {
	stamp, err := fileStamp(certFile, keyFile)
	if err != nil {
		return nil, "", err
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		return nil, stamp, fmt.Errorf("tls key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, stamp, fmt.Errorf("tls key %s is accessible to others (mode %04o); run chmod 600 %s", keyFile, perm, keyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, stamp, fmt.Errorf("tls: %w", err)
	}
	return &cert, stamp, nil
}

// fileStamp is a digest of the files' contents: a renewal is seen whatever the file
// system's time stamps (two writes in one clock tick share a modification time).
func fileStamp(paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		fmt.Fprintf(h, "%d:", len(data))
		h.Write(data)
	}
	return string(h.Sum(nil)), nil
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

// cmdToken manages access tokens: create prints a new bearer token once (only its hash
// is stored); list shows tokens by id, never the token; revoke ends one. Every creation
// and revocation is written to the audit log.
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	const usageLine = "token: usage: tamtam token create --role intake|coordinator|funder [--site CODE]... [--label TEXT] [--expires YYYY-MM-DD]" +
		" | tamtam token list [--all] | tamtam token revoke ID"
	if len(args) == 0 {
		return usagef(usageLine)
	}
	sub, args := args[0], args[1:]
	var cfg Config
	fs := newFlagSet("token "+sub, &cfg, stderr, getenv)
	// audit records a token change made here. Whoever runs the command line reaches the
	// store directly, hence the actor "cli" and the role "operator". The detail names the
	// token by id, never by the token.
	audit := func(app *App, action string, tok collector.Token, outcome, note string) error {
		detail := fmt.Sprintf("token %s role %s", tok.ID(), tok.Role)
		if note != "" {
			detail += " " + note
		}
		return app.db.Audit(ctx, collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Sites: tok.Sites,
			Action: action, Detail: detail, Outcome: outcome})
	}
	// A control character in a label could rewrite the terminal: shown as '?'.
	printable := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return '?'
			}
			return r
		}, s)
	}
	const minute = "2006-01-02T15:04Z"
	// describe says what a token is for, in the messages of create and revoke.
	describe := func(tok collector.Token) string {
		scope, expiry := "all sites", "never expires"
		if len(tok.Sites) > 0 {
			scope = "sites " + strings.Join(tok.Sites, ",")
		}
		if !tok.ExpiresAt.IsZero() {
			expiry = "expires " + tok.ExpiresAt.UTC().Format(time.DateOnly)
		}
		d := fmt.Sprintf("%s; %s; %s", tok.Role, scope, expiry)
		if tok.Label != "" {
			d += "; " + printable(tok.Label)
		}
		return d
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
		now := time.Now()
		bearer, tok, err := collector.NewTokenFor(r, sites, label, known, now)
		if err != nil {
			return usagef("token create: %v", err)
		}
		if expires != "" {
			if tok.ExpiresAt, err = collector.ParseExpiry(expires, now); err != nil {
				return usagef("token create: %v", err)
			}
		}
		app, err := startApp(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		note := ""
		if !tok.ExpiresAt.IsZero() {
			note = "expires " + tok.ExpiresAt.Format(time.DateOnly)
		}
		if err := app.db.CreateToken(ctx, tok); err != nil {
			_ = audit(app, "token.create", tok, "failed", note) // best effort: the store is likely down
			return err
		}
		// No usable token without its audit event: the bearer is shown only once the
		// creation is recorded.
		if err := audit(app, "token.create", tok, "ok", note); err != nil {
			return fmt.Errorf("token create: the token was not handed out, its creation could not be audited: %w", err)
		}
		// The bearer is printed once, alone on stdout, so it can be captured by a script;
		// only its hash is stored. The note on stderr names it by id, for list and revoke.
		fmt.Fprintln(stdout, bearer)
		fmt.Fprintf(stderr, "token %s created (%s); it is shown only this once\n", tok.ID(), describe(tok))
		return nil

	case "list":
		var all bool
		fs.BoolVar(&all, "all", false, "include revoked and expired tokens")
		if err := parse(fs, args); err != nil {
			return err
		}
		app, err := startApp(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		tokens, err := app.db.Tokens(ctx)
		if err != nil {
			return err
		}
		now := app.now()
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tSITES\tLABEL\tCREATED\tEXPIRES\tREVOKED\tLAST USED")
		shown := 0
		for _, t := range tokens {
			if !all && !t.Active(now) {
				continue
			}
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
			shown++
		}
		if shown == 0 {
			if all {
				fmt.Fprintln(stderr, "no tokens; create one with tamtam token create")
			} else {
				fmt.Fprintln(stderr, "no active tokens; --all shows revoked and expired ones")
			}
			return nil
		}
		return tw.Flush()

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
			return usagef("token revoke: give exactly one token id: tamtam token revoke ID")
		}
		id := ids[0]
		// Check the form before opening the store; the error never quotes the argument,
		// which may be a bearer token pasted by mistake.
		if _, err := collector.MatchTokenID(nil, id); !errors.Is(err, collector.ErrNoToken) {
			return usagef("token revoke: %v", err)
		}
		app, err := startApp(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		tokens, err := app.db.Tokens(ctx)
		if err != nil {
			return err
		}
		tok, err := collector.MatchTokenID(tokens, id)
		if err != nil {
			if aerr := app.db.Audit(ctx, collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator",
				Action: "token.revoke", Detail: err.Error(), Outcome: "failed"}); aerr != nil {
				return aerr
			}
			return usagef("token revoke: %v", err)
		}
		if tok.Revoked {
			fmt.Fprintf(stdout, "token %s was already revoked\n", tok.ID())
			return nil
		}
		if _, err := app.db.RevokeToken(ctx, tok.Hash, app.now()); err != nil {
			_ = audit(app, "token.revoke", tok, "failed", "") // best effort: the store is likely down
			return err
		}
		if err := audit(app, "token.revoke", tok, "ok", ""); err != nil {
			return fmt.Errorf("token revoke: the token is revoked, but the audit event could not be written: %w", err)
		}
		fmt.Fprintf(stdout, "token %s revoked (%s); running servers refuse it within 10 seconds\n", tok.ID(), describe(tok))
		return nil
	}
	return usagef(usageLine)
}

// cmdAudit prints the audit log, newest first: who did what, when, with what outcome.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg    Config
		since  string
		action string
		limit  int
	)
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
				return usagef("audit: --since %q is not a date YYYY-MM-DD or a time like 2026-01-02T15:04:05Z", since)
			}
		}
		q.Since = t
	}
	if limit < 1 || limit > 100_000 {
		return usagef("audit: --limit must be between 1 and 100000")
	}
	app, err := startApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	events, err := app.db.AuditLog(ctx, q)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		fmt.Fprintln(stderr, "no audit events match")
		return nil
	}
	// Details come from many places (a requested file name, …): a control character
	// could rewrite the terminal or break the columns, so it is shown as '?'.
	printable := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return '?'
			}
			return r
		}, s)
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
