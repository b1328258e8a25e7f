package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/paper"
	"github.com/tamtam-ngo/tamtam/collector/spool"
	"github.com/tamtam-ngo/tamtam/collector/web"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/launcher"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// App is tamtam wired together. Each command builds only what it uses: every one opens
// the store ([openStore]); the batch tools add the ingest pipeline ([App.openIngest]) or
// the releases ([App.openReports]); serve builds everything ([NewApp]).
type App struct {
	log      *slog.Logger
	server   *launcher.Server // the embedded ClickHouse, nil with --clickhouse URL
	db       *queries.DB
	endpoint queries.Endpoint // how to reach the store, for `tamtam sql`
	catalog  *collector.Catalog
	sites    *collector.Sites
	now      func() time.Time

	// openIngest
	keys     *collector.Keyring
	ingester *collector.Ingester
	api      *collector.API

	// openReports
	reportCatalog *reports.Catalog
	publisher     *reports.Publisher

	// NewApp (serve)
	spool    *spool.Spool // with cfg.Spool
	registry *prometheus.Registry
	reports  *reports.Server
	sessions *web.Sessions
	pages    *web.Pages
	web      *web.Server
}

// NewApp builds all of tamtam, as serve runs it: the store, the ingest pipeline (through
// the spool with cfg.Spool), the releases, the metrics, the API, the reports and the
// pages. Close releases everything.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	a, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := collector.NewMetrics(a.registry)
	opts := collector.IngesterOptions{Logger: log, Metrics: metrics, CommitTimeout: 15 * time.Minute}
	if cfg.Spool {
		// serve acknowledges once a record is fsynced in the local spool; the other
		// commands are batch tools that write straight to the store.
		if a.spool, err = spool.Open(spool.Options{Dir: filepath.Join(cfg.Data, "spool"), MaxBytes: cfg.SpoolMaxBytes, Logger: log}); err != nil {
			return nil, err
		}
		opts.Spool = a.spool
		opts.CommitTimeout = 30 * time.Second
		metrics.WatchSpool(a.spool, time.Now)
	}
	if err := a.openIngest(cfg, opts); err != nil {
		return nil, err
	}
	if err := a.openReports(); err != nil {
		return nil, err
	}
	now := func() time.Time { return a.now() } // read on every use: tests move a.now
	limiter := collector.NewRateLimiter(cfg.RateLimit, now)
	a.api.Auth = collector.NewAuthenticatorWith(a.db, collector.AuthOptions{Logger: log})
	a.api.Limiter = limiter
	a.api.Records = collector.NewRecordBudget(cfg.RecordBudget, now)
	a.api.Metrics = metrics
	a.reports = &reports.Server{
		Publisher: a.publisher,
		Source:    a.db,
		Catalog:   a.reportCatalog,
		Sites:     a.sites,
		Auth:      a.api.Auth,
		Limiter:   limiter,
		Ledger:    a.db,
		Auditor:   a.db,
		Logger:    log,
	}
	if err := a.openWeb(cfg, log); err != nil {
		return nil, err
	}
	return a, nil
}

// openStore opens the store (starting or attaching to the embedded ClickHouse under
// cfg.Data unless cfg.ClickHouse is a URL), applies migrations, loads the questionnaires
// and sites, and checks the definitions against those the store has known: what every
// command needs. Close releases it.
func openStore(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	a, err := openSchema(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := a.catalog.CheckFingerprints(ctx, a.db); err != nil {
		a.Close()
		var changed *collector.ChangedDefinitionError
		if errors.As(err, &changed) {
			src := changed.Source
			if src == "" {
				src = cfg.lang().T("cli.questionnaire.builtin")
			}
			return nil, errors.New(cfg.lang().T("cli.questionnaire.changed", changed.ID, changed.Version, src, changed.Version+1))
		}
		return nil, err
	}
	return a, nil
}

// openSchema is openStore without the check of the definitions, which records them in
// the store: a restore must find the store as migrated, and bring the definitions'
// fingerprints of the store backed up.
func openSchema(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	a := &App{log: log, now: time.Now}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.catalog, err = cfg.catalog(); err != nil {
		return nil, err
	}
	if a.sites, err = collector.LoadSites(cfg.SitesFile); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	var (
		ep       queries.Endpoint
		database = "tamtam"
	)
	if cfg.ClickHouse == "embedded" && cfg.Cluster != "" {
		return nil, usagef("--cluster %s needs --clickhouse clickhouse://host1:9000,host2:9000/database: the embedded server is one server", cfg.Cluster)
	}
	if cfg.ClickHouse == "embedded" {
		a.server, err = launcher.Launch(ctx, launcher.Options{Dir: filepath.Join(cfg.Data, "clickhouse"), Logger: log})
		if err != nil {
			return nil, err
		}
		ep = a.server.Endpoint()
	} else if ep, database, err = queries.ParseURL(cfg.ClickHouse); err != nil {
		return nil, &usageError{err.Error()}
	}
	a.endpoint = ep
	if a.db, err = queries.Open(ctx, ep, database, queries.Options{Logger: log, Cluster: cfg.Cluster}); err != nil {
		return nil, err
	}
	if _, err := a.db.Migrate(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// openIngest adds the linkage keys and the ingest pipeline, and the API's path through
// them (decoding, validation, anonymisation) without its HTTP side: what demo and import
// use.
func (a *App) openIngest(cfg Config, opts collector.IngesterOptions) (err error) {
	if a.keys, err = collector.OpenKeyring(filepath.Join(cfg.Data, "keys")); err != nil {
		return err
	}
	if a.ingester, err = collector.NewIngester(a.db, opts); err != nil {
		return err
	}
	a.api = &collector.API{
		Catalog:    a.catalog,
		Sites:      a.sites,
		Anonymiser: &collector.Anonymiser{Keys: a.keys},
		Ingester:   a.ingester,
		Logger:     a.log,
	}
	return nil
}

// batchIngest is the ingester of the batch tools (demo, import): they commit large
// batches in one insert, and a million rows take longer than a request's commit may.
func (a *App) batchIngest() collector.IngesterOptions {
	return collector.IngesterOptions{Logger: a.log, CommitTimeout: 15 * time.Minute}
}

// openReports adds the releases: the report catalogue and the publisher.
func (a *App) openReports() (err error) {
	if a.reportCatalog, err = reports.NewCatalog(a.catalog); err != nil {
		return err
	}
	a.publisher = reports.NewPublisher(a.db, a.db, a.reportCatalog)
	return nil
}

// keyMaintainer returns the linkage-key maintenance of kd on the store, handing the
// keys to the API's anonymiser when there is one (serve).
func (a *App) keyMaintainer(kd *collector.KeyDir) *collector.KeyMaintainer {
	km := &collector.KeyMaintainer{Keys: kd, Store: a.db, Logger: a.log,
		Now:        func() time.Time { return a.now() },
		NotAllowed: func(err error) bool { return errors.Is(err, queries.ErrNotAllowed) }}
	if a.api != nil {
		km.Anonymiser = a.api.Anonymiser
	}
	return km
}

// openWeb builds the pages: sessions signed with a key of the data directory, the
// intake forms and imports on the API's own path to the store, the audit log page.
func (a *App) openWeb(cfg Config, log *slog.Logger) error {
	key, err := web.LoadSessionKey(filepath.Join(cfg.Data, "session.key"))
	if err != nil {
		return err
	}
	a.sessions = web.NewSessions(key, a.db, a.api.Auth, web.SessionOptions{Secure: cfg.TLS})
	if a.pages, err = web.NewPages(a.sessions, log); err != nil {
		return err
	}
	if err := a.reports.UsePages(a.sessions, a.pages); err != nil {
		return err
	}
	a.web = &web.Server{
		API:      a.api,
		Sessions: a.sessions,
		Pages:    a.pages,
		Importer: &paper.Importer{Catalog: a.catalog, Preparer: a.api, Submitter: a.ingester, Lookup: a.db},
		Auditor:  a.db,
		Audit:    auditLog{a.db},
		Logger:   log,
	}
	return nil
}

// auditLog reads the audit log for the coordinator's page.
type auditLog struct{ db *queries.DB }

func (l auditLog) AuditEvents(ctx context.Context, since time.Time, action string, limit int) ([]collector.AuditEvent, error) {
	return l.db.AuditLog(ctx, queries.AuditQuery{Since: since, Action: action, Limit: limit})
}

// defaultPolicy is the disclosure control of served reports: the defaults of PRIVACY.md.
var defaultPolicy = func() *disclosure.Policy {
	p, err := disclosure.NewPolicy(disclosure.DefaultConfig())
	if err != nil {
		panic(err) // the defaults are valid by construction
	}
	return p
}()

func (a *App) siteCodes() []string {
	var out []string
	for _, s := range a.sites.All() {
		out = append(out, s.Code)
	}
	return out
}

func (a *App) siteNames() map[string]collector.Text {
	names := map[string]collector.Text{}
	for _, s := range a.sites.All() {
		names[s.Code] = s.Name
	}
	return names
}

// funderSites returns the site sets of the funder tokens that work now: each is a
// publication group of the next release.
func (a *App) funderSites(ctx context.Context) ([][]string, error) {
	tokens, err := a.db.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, t := range tokens {
		if t.Role != collector.RoleFunder || t.Revoked || (!t.ExpiresAt.IsZero() && !t.ExpiresAt.After(a.now())) {
			continue
		}
		out = append(out, t.Sites)
	}
	return out, nil
}

// makeRelease makes and stores a release of year: the one workflow behind tamtam
// release and tamtam report.
func (a *App) makeRelease(ctx context.Context, year int, cutOff time.Time, policy *disclosure.Policy) (*reports.Release, bool, error) {
	funders, err := a.funderSites(ctx)
	if err != nil {
		return nil, false, err
	}
	versions, err := a.db.YearVersions(ctx, year)
	if err != nil {
		return nil, false, err
	}
	r, made, err := a.publisher.Make(ctx, reports.MakeOptions{Year: year, CutOff: cutOff, Policy: policy,
		Sites: a.siteCodes(), Funders: funders, Questionnaires: versions,
		Actor: "cli", Role: "operator", Now: a.now()})
	if err != nil {
		return nil, false, err
	}
	if made {
		if err := a.db.Audit(ctx, collector.AuditEvent{At: a.now(), Actor: "cli", Role: "operator", Sites: r.Plan.Groups[0].Sites,
			Action: "release.make", Detail: fmt.Sprintf("%s (%d, cut-off %s, k=%d)", r.ID, year, r.CutOff.Format(time.RFC3339), r.Config.K),
			Outcome: "ok"}); err != nil {
			return nil, false, err
		}
	}
	return r, made, nil
}

// Close stops the pipeline (committing what is queued), then the store.
func (a *App) Close() error {
	if a.ingester != nil {
		a.ingester.Close()
	}
	if a.api != nil && a.api.Auth != nil {
		a.api.Auth.Close() // write pending last-use times while the store is open
	}
	var errs []error
	if a.spool != nil {
		errs = append(errs, a.spool.Close())
	}
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	if a.server != nil {
		errs = append(errs, a.server.Close())
	}
	return errors.Join(errs...)
}

// MetricsHandler returns the handler of the metrics listener (--metrics-addr): the
// Prometheus metrics at /metrics, nothing else. They are not on the API's listener: they
// need no token and show intake activity as it happens, so they are served where only
// the operator's scraper reaches (loopback by default).
func (a *App) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}))
	return mux
}

// Handler returns the HTTP handler: the API, health checks, and nothing global. The
// metrics are on their own listener: [App.MetricsHandler].
func (a *App) Handler() http.Handler {
	r := gin.New()
	// The client address is the connection's: a forwarded-for header is anybody's to
	// write, and the sign-in limit is keyed by the address. (Behind a proxy every client
	// shares its address: the limit is then the proxy's.)
	if err := r.SetTrustedProxies(nil); err != nil {
		panic(err) // nil is always accepted
	}
	// A panic is logged through slog without gin's dump of the request, which would
	// print the session cookie, and answered as any internal error (logged here once:
	// no logger for AbortWithError).
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, rec any) {
		a.log.Error("request panicked", "method", c.Request.Method, "route", c.FullPath(), "err", fmt.Sprint(rec))
		collector.AbortWithError(c, nil, fmt.Errorf("panic: %v", rec))
	}), a.accessLog())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", a.ready)
	a.api.Mount(r)
	a.reports.Mount(r)
	a.web.Mount(r)
	r.NoRoute(func(c *gin.Context) {
		collector.AbortWithError(c, a.log, collector.NewError(collector.CodeNotFound, "api.no_such_page"))
	})
	return r
}

// ready answers 200 when a submission can be made durable now: with the spool (serve),
// when the spool accepts (a ClickHouse outage is absorbed by the spool, and reported in the
// body); without it, when the store answers. 503 otherwise, so that a load balancer stops
// sending submissions that would be refused.
func (a *App) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	store := "reachable"
	storeErr := a.db.Ping(ctx)
	if storeErr != nil {
		store = "unreachable"
	}
	spoolState := "none"
	if a.spool != nil {
		spoolState = "accepting"
		if !a.ingester.Ready() {
			spoolState = "full"
		}
	}
	ok := a.ingester.Ready() && (a.spool != nil || storeErr == nil)
	status, word := http.StatusOK, "ready"
	if !ok {
		status, word = collector.ErrorStatus(c, collector.NewError(collector.CodeUnavailable, "api.store_unavailable")), "unavailable"
	}
	c.JSON(status, gin.H{"status": word, "store": store, "spool": spoolState})
}

// accessLog logs one line per request: the route pattern, never the query string or
// the body (they may hold answers), never the token, never the client address.
func (a *App) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		a.log.Info("request", "method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds())
	}
}
