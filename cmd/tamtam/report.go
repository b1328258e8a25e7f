package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg    Config
		year   int
		out    string
		sites  stringList
		lang   string
		k      int
		cutOff string
	)
	fs := newFlagSet("report", &cfg, stderr, getenv)
	fs.IntVar(&year, "year", 0, "year of the figures (required)")
	fs.StringVar(&out, "out", "", "directory to write the release into (required)")
	fs.Var(&sites, "site", "restrict to a site (repeat for several); default all sites")
	fs.StringVar(&lang, "lang", "fr", "language of labels: fr, nl or en")
	fs.IntVar(&k, "k", disclosure.DefaultConfig().K, "disclosure threshold: counts below k are suppressed (at least 3)")
	fs.StringVar(&cutOff, "cutoff", "", "data cut-off (RFC 3339), to reproduce an earlier release; default the last record of the year")
	if err := parse(fs, args); err != nil {
		return err
	}
	if year < 2015 || out == "" {
		return usagef("report: --year (2015 or later) and --out are required")
	}
	if !slices.Contains(collector.Languages, lang) {
		return usagef("report: --lang must be fr, nl or en")
	}
	dc := disclosure.DefaultConfig()
	dc.K = k
	policy, err := disclosure.NewPolicy(dc)
	if err != nil {
		return usagef("report: %v", err)
	}
	var cut time.Time
	if cutOff != "" {
		if cut, err = time.Parse(time.RFC3339, cutOff); err != nil {
			return usagef("report: --cutoff must be RFC 3339, like 2026-01-15T10:30:00Z")
		}
	}
	known, err := collector.LoadSites(cfg.SitesFile)
	if err != nil {
		return err
	}
	for _, s := range sites {
		if _, ok := known.Get(s); !ok {
			return usagef("report: unknown site %q", s)
		}
	}
	app, err := startApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	scope := app.siteCodes()
	if len(sites) > 0 {
		scope = slices.DeleteFunc(scope, func(s string) bool { return !slices.Contains(sites, s) })
	}
	f, err := reports.Build(ctx, app.db, app.reportCatalog, reports.Options{Year: year, Sites: scope, CutOff: cut,
		Policy: policy, SiteNames: app.siteNames()})
	if errors.Is(err, reports.ErrNoData) {
		return fmt.Errorf("report: no questionnaire of %d in the selected sites", year)
	}
	if err != nil {
		return err
	}
	m, err := reports.WriteRelease(ctx, f, out, reports.ReleaseOptions{Lang: lang, Questionnaires: app.questionnaireVersions(), Logger: app.log})
	if err != nil {
		return err
	}
	if err := app.db.RecordRelease(ctx, reports.LedgerEntry{At: app.now(), Actor: "cli", Role: "operator", Year: year,
		Sites: scope, Lang: lang, K: k, CutOff: f.CutOff, Settings: m.Settings(), Files: m.Files}); err != nil {
		return err
	}
	if err := app.db.Audit(ctx, collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Sites: scope,
		Action: "report.release", Detail: fmt.Sprintf("%d to %s", year, out), Outcome: "ok"}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report %d (%s, k=%d, data cut-off %s): %d files in %s\n", year, lang, k,
		f.CutOff.Format(time.RFC3339), len(m.Files)+1, out)
	for _, s := range m.Skipped {
		fmt.Fprintf(stdout, "skipped: %s\n", s)
	}
	return nil
}
