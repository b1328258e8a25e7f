package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
)

// App is tamtam wired together: the store, the domain data and the ingest pipeline.
// Every command builds one; serve also mounts its HTTP handler.
type App struct {
	log      *slog.Logger
	server   *queries.Server // the embedded ClickHouse, nil with --clickhouse URL
	db       *queries.DB
	endpoint queries.Endpoint // how to reach the store, for `tamtam sql`
	catalog  *collector.Catalog
	sites    *collector.Sites
	keys     *collector.Keyring
	ingester *collector.Ingester
	api      *collector.API
	now      func() time.Time
}

// NewApp opens the store (starting or attaching to the embedded ClickHouse under
// cfg.Data unless cfg.ClickHouse is a URL), applies migrations, and loads the
// questionnaires, sites and linkage keys. Close releases everything.
func NewApp(ctx context.Context, cfg Config, log *slog.Logger) (_ *App, err error) {
	a := &App{log: log, now: time.Now}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.catalog, err = collector.BuiltinCatalog(); err != nil {
		return nil, err
	}
	if a.sites, err = collector.LoadSites(cfg.SitesFile); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if a.keys, err = collector.OpenKeyring(filepath.Join(cfg.Data, "keys")); err != nil {
		return nil, err
	}
	var (
		ep       queries.Endpoint
		database = "tamtam"
	)
	if cfg.ClickHouse == "embedded" {
		a.server, err = queries.Launch(ctx, queries.ServerOptions{Dir: filepath.Join(cfg.Data, "clickhouse"), Logger: log})
		if err != nil {
			return nil, err
		}
		ep = a.server.Endpoint()
	} else if ep, database, err = queries.ParseURL(cfg.ClickHouse); err != nil {
		return nil, &usageError{err.Error()}
	}
	a.endpoint = ep
	if a.db, err = queries.Open(ctx, ep, database, queries.Options{Logger: log}); err != nil {
		return nil, err
	}
	if _, err := a.db.Migrate(ctx); err != nil {
		return nil, err
	}
	a.ingester = collector.NewIngester(a.db, collector.IngesterOptions{Logger: log})
	a.api = &collector.API{
		Catalog:    a.catalog,
		Sites:      a.sites,
		Auth:       collector.NewAuthenticator(a.db, 0, nil),
		Anonymiser: &collector.Anonymiser{Keys: a.keys},
		Ingester:   a.ingester,
		Logger:     log,
	}
	return a, nil
}

// Close stops the pipeline (committing what is queued), then the store.
func (a *App) Close() error {
	if a.ingester != nil {
		a.ingester.Close()
	}
	var errs []error
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	if a.server != nil {
		errs = append(errs, a.server.Close())
	}
	return errors.Join(errs...)
}

// Handler returns the HTTP handler: the API, health checks, and nothing global.
func (a *App) Handler() http.Handler {
	r := gin.New()
	r.Use(gin.Recovery(), a.accessLog())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", a.ready)
	a.api.Mount(r)
	return r
}

// ready answers 200 when the store answers; 503 otherwise, so a load balancer stops
// sending submissions that could not be made durable.
func (a *App) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := a.db.Ping(ctx); err != nil {
		a.log.Warn("not ready", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
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
