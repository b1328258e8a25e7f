package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// cmdRelease makes a frozen release of a year (tamtam release --year Y [--cutoff T]
// [--k N]) or lists the releases (tamtam release list [--year Y]).
func cmdRelease(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "list" {
		return cmdReleaseList(ctx, args[1:], stdout, stderr, getenv)
	}
	var (
		cfg    Config
		year   int
		k      int
		cutOff string
	)
	fs := newFlagSet("release", &cfg, stderr, getenv)
	fs.IntVar(&year, "year", 0, "year of the figures (required)")
	fs.IntVar(&k, "k", disclosure.DefaultConfig().K, "disclosure threshold: counts below k are suppressed (at least 3)")
	fs.StringVar(&cutOff, "cutoff", "", "data cut-off (RFC 3339); default the last record of the year")
	if err := parse(fs, args); err != nil {
		return err
	}
	if year < 2015 {
		return usagef("release: --year (2015 or later) is required")
	}
	policy, cut, err := releaseSettings(k, cutOff)
	if err != nil {
		return err
	}
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.openReports(); err != nil {
		return err
	}
	r, made, err := app.makeRelease(ctx, year, cut, policy)
	if err != nil {
		return releaseError("release", year, err)
	}
	l := cliLang(getenv)
	printRelease(stdout, l, r, made)
	if made && len(r.Earlier) > 0 {
		if prev, err := app.publisher.Load(ctx, r.Earlier[len(r.Earlier)-1]); err == nil {
			printChange(stdout, l, prev, r)
		}
	}
	fmt.Fprintln(stdout, r.ID)
	return nil
}

// releaseSettings checks the threshold and the cut-off of a new release.
func releaseSettings(k int, cutOff string) (*disclosure.Policy, time.Time, error) {
	dc := disclosure.DefaultConfig()
	dc.K = k
	policy, err := disclosure.NewPolicy(dc)
	if err != nil {
		return nil, time.Time{}, usagef("%v", err)
	}
	var cut time.Time
	if cutOff != "" {
		if cut, err = time.Parse(time.RFC3339, cutOff); err != nil {
			return nil, time.Time{}, usagef("--cutoff must be RFC 3339, like 2026-01-15T10:30:00Z")
		}
	}
	return policy, cut, nil
}

// releaseError turns the errors of making a release into one clear line.
func releaseError(cmd string, year int, err error) error {
	switch {
	case errors.Is(err, reports.ErrNoData):
		return fmt.Errorf("%s: no questionnaire of %d in the store", cmd, year)
	case errors.Is(err, reports.ErrCutOffBefore):
		return usagef("%s: %v: a release of a year never goes back in time", cmd, err)
	}
	return err
}

// printRelease says what a release is, in a few lines.
func printRelease(w io.Writer, l words.Lang, r *reports.Release, made bool) {
	info := r.Info()
	verb := l.T("cli.release.made")
	if !made {
		verb = l.T("cli.release.unchanged")
	}
	fmt.Fprintln(w, l.T("cli.release.summary", r.Year, verb,
		r.CutOff.Format(time.RFC3339), r.Config.K, info.Cells, info.Suppressed, len(info.Groups), strings.Join(info.Groups, " ")))
	if len(r.Plan.Pooled) > 0 {
		fmt.Fprintln(w, l.T("cli.release.pooled", reports.OtherSites, strings.Join(r.Plan.Pooled, ", ")))
	}
	if len(r.Earlier) > 0 {
		fmt.Fprintln(w, l.T("cli.release.jointly", strings.Join(r.Earlier, ", ")))
	}
}

// printChange warns when a new release adds few interviewed entrants to the previous
// one: every figure they changed by 1 to k-1 is then hidden, so the release shows less
// than its predecessor. It says so without the number, which is such a change.
func printChange(w io.Writer, l words.Lang, prev, r *reports.Release) {
	a, okA := prev.Interviewed()
	b, okB := r.Interviewed()
	if okA && okB && b-a < 10*r.Config.K {
		fmt.Fprintln(w, l.T("cli.release.few_new", prev.ID))
	}
}

func cmdReleaseList(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg  Config
		year int
	)
	fs := newFlagSet("release list", &cfg, stderr, getenv)
	fs.IntVar(&year, "year", 0, "only the releases of this year")
	if err := parse(fs, args); err != nil {
		return err
	}
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.openReports(); err != nil {
		return err
	}
	var all []reports.ReleaseInfo
	years := []int{year}
	if year == 0 {
		infos, err := app.db.ListReleases(ctx, 0)
		if err != nil {
			return err
		}
		years = nil
		for _, r := range infos {
			if !slices.Contains(years, r.Year) {
				years = append(years, r.Year)
			}
		}
		slices.Sort(years)
	}
	for _, y := range years {
		valid, err := app.publisher.Valid(ctx, y)
		if err != nil {
			return err
		}
		all = append(all, valid...)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tYEAR\tCUT-OFF\tMADE\tBY\tK\tCELLS\tSUPPRESSED\tGROUPS\tCELLS SHA-256")
	for _, r := range all {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.ID, r.Year, r.CutOff.Format(time.RFC3339),
			r.MadeAt.Format(time.RFC3339), r.Actor, r.K, r.Cells, r.Suppressed, strings.Join(r.Groups, " "), r.CellsSHA256[:16])
	}
	return tw.Flush()
}

// cmdReport writes a view of a release: the latest of the year, or --release; if the
// year has none, it makes one first and says so. --site selects a publication group of
// the release; it never protects a new subset.
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg     Config
		year    int
		out     string
		sites   stringList
		lang    string
		k       int
		cutOff  string
		release string
		only    string
	)
	fs := newFlagSet("report", &cfg, stderr, getenv)
	fs.IntVar(&year, "year", 0, "year of the figures (required)")
	fs.StringVar(&out, "out", "", "directory to write the files into (required)")
	fs.StringVar(&release, "release", "", "the release to show; default the latest of the year")
	fs.Var(&sites, "site", "show the group of exactly these sites (repeat for several): one site, or a funder's sites; default all sites")
	fs.StringVar(&lang, "lang", "fr", "language of labels: fr, nl or en")
	fs.IntVar(&k, "k", disclosure.DefaultConfig().K, "disclosure threshold of the release made when the year has none")
	fs.StringVar(&cutOff, "cutoff", "", "show the latest release at this data cut-off (RFC 3339), made if there is none")
	fs.StringVar(&only, "questionnaire", "", "show the figures of this questionnaire only; default every questionnaire with data that year")
	if err := parse(fs, args); err != nil {
		return err
	}
	if year < 2015 || out == "" {
		return usagef("report: --year (2015 or later) and --out are required")
	}
	if !slices.Contains(collector.Languages, lang) {
		return usagef("report: --lang must be fr, nl or en")
	}
	policy, cut, err := releaseSettings(k, cutOff)
	if err != nil {
		return err
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
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.openReports(); err != nil {
		return err
	}
	l := cliLang(getenv)
	r, err := app.reportRelease(ctx, stdout, l, year, release, cut, policy)
	if err != nil {
		return err
	}
	group := reports.AllGroup
	if len(sites) > 0 {
		g, err := r.GroupOf(sites)
		if err != nil {
			return usagef("report: %v", err)
		}
		group = g.Code
	}
	f, _, err := app.publisher.View(ctx, r, group, app.siteNames())
	if err != nil {
		return err
	}
	if only != "" {
		if _, ok := app.catalog.Latest(only); !ok {
			return usagef("report: unknown questionnaire %q (known: %s)", only, strings.Join(app.catalog.IDs(), ", "))
		}
		if !slices.Contains(f.QuestionnaireIDs(), only) {
			return fmt.Errorf("report: release %s has no figures of questionnaire %s (it covers %s)", r.ID, only, strings.Join(f.QuestionnaireIDs(), ", "))
		}
		f = f.Only(only)
	}
	m, err := reports.WriteRelease(ctx, f, out, reports.ReleaseOptions{Lang: lang, Logger: app.log})
	if err != nil {
		return err
	}
	if err := app.db.RecordRelease(ctx, reports.LedgerEntry{At: app.now(), Actor: "cli", Role: "operator", Year: year,
		Sites: f.Sites, Lang: lang, K: r.Config.K, CutOff: r.CutOff, Settings: m.Settings(), Files: m.Files}); err != nil {
		return err
	}
	if err := app.db.Audit(ctx, collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Sites: f.Sites,
		Action: "report.release", Detail: fmt.Sprintf("%d release %s %s to %s", year, r.ID, group, out), Outcome: "ok"}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, l.T("cli.report.done", year, r.ID, group, lang,
		r.Config.K, r.CutOff.Format(time.RFC3339), len(m.Files)+1, out))
	for _, s := range m.Skipped {
		fmt.Fprintln(stdout, l.T("cli.report.skipped", s))
	}
	return nil
}

// reportRelease finds the release a report shows: the one asked for, the latest at a
// cut-off, or the latest of the year; when the year (or the cut-off) has none, it makes
// one and says so.
func (a *App) reportRelease(ctx context.Context, stdout io.Writer, l words.Lang, year int, id string, cut time.Time, policy *disclosure.Policy) (*reports.Release, error) {
	if id != "" {
		r, err := a.publisher.Find(ctx, year, id)
		if errors.Is(err, reports.ErrNoRelease) {
			return nil, usagef("report: %s is not a release of %d (tamtam release list)", id, year)
		}
		return r, err
	}
	valid, err := a.publisher.Valid(ctx, year)
	if err != nil {
		return nil, err
	}
	for i := len(valid) - 1; i >= 0; i-- {
		if cut.IsZero() || valid[i].CutOff.Equal(cut.UTC().Truncate(time.Second)) {
			if cut.IsZero() && policy.Config().K != valid[i].K {
				return nil, usagef("report: the latest release of %d (%s) has k=%d; make one with tamtam release --year %d --k %d",
					year, valid[i].ID, valid[i].K, year, policy.Config().K)
			}
			return a.publisher.Load(ctx, valid[i].ID)
		}
	}
	r, made, err := a.makeRelease(ctx, year, cut, policy)
	if err != nil {
		return nil, releaseError("report", year, err)
	}
	if made {
		fmt.Fprintln(stdout, l.T("cli.report.made_release", year, r.ID))
	}
	return r, nil
}
