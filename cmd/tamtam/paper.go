package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/paper"
	"github.com/tamtam-ngo/tamtam/queries"
)

// cmdTemplate writes the Excel data-entry template of a questionnaire. It needs no store:
// the definitions are built in or in the questionnaire directory.
func cmdTemplate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg           Config
		questionnaire string
		version       int
		lang          string
		out           string
	)
	fs := newFlagSet("template", &cfg, stderr, getenv)
	fs.StringVar(&questionnaire, "questionnaire", "entry", "questionnaire id: entry, followup, or one of --questionnaires")
	fs.IntVar(&version, "version", 0, "questionnaire version (default: the latest)")
	fs.StringVar(&lang, "lang", "fr", "language of the questions and instructions: fr, nl or en")
	fs.StringVar(&out, "out", "", "the workbook to write, e.g. entry.xlsx (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if out == "" {
		return usagef("template: --out FILE.xlsx is required")
	}
	if !slices.Contains(collector.Languages, lang) {
		return usagef("template: --lang must be one of %s", strings.Join(collector.Languages, ", "))
	}
	catalog, err := cfg.catalog()
	if err != nil {
		return err
	}
	d, ok := catalog.Latest(questionnaire)
	if version != 0 {
		d, ok = catalog.Get(questionnaire, version)
	}
	if !ok {
		return usagef("template: no questionnaire %s version %d; known: %s", questionnaire, version, strings.Join(catalog.IDs(), ", "))
	}
	f, err := paper.Template(d, lang)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, err := f.WriteToBuffer()
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	// The template holds no answers: an ordinary file, written whole or not at all.
	if err := collector.WriteFileAtomic(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	fmt.Fprintln(stdout, cliLang(getenv).T("cli.template.done", out, d.ID, d.Version, len(d.Items), lang))
	return nil
}

const importUsage = "tamtam import FILE.xlsx|FILE.csv --site CODE [--dry-run] [--report OUT.xlsx] [--questionnaire ID]"

// cmdImport checks a filled-in template (or a CSV file with its headers) and stores all
// its rows, or none. With --dry-run it stores nothing and reports; --report writes the
// file back with the faulty cells highlighted.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) (err error) {
	var (
		cfg           Config
		site          string
		dryRun        bool
		report        string
		questionnaire string
	)
	l := cliLang(getenv)
	fs := newFlagSet("import", &cfg, stderr, getenv)
	fs.StringVar(&site, "site", "", "site code of every row (required)")
	fs.BoolVar(&dryRun, "dry-run", false, "check every row and list the problems; store nothing")
	fs.StringVar(&report, "report", "", "write the file back as a workbook, faulty cells highlighted and commented")
	fs.StringVar(&questionnaire, "questionnaire", "", "questionnaire of the rows (default: the one the template names, else entry)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 || site == "" {
		return usagef("import: usage: %s", importUsage)
	}
	path := files[0]
	if report != "" && sameFile(report, path) {
		return &usageError{l.T("cli.import.report_same")}
	}
	known, err := collector.LoadSites(cfg.SitesFile)
	if err != nil {
		return err
	}
	if _, ok := known.Get(site); !ok {
		return &usageError{l.T("cli.import.unknown_site", site)}
	}
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer in.Close()
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	if err := app.openIngest(cfg, app.batchIngest()); err != nil {
		return err
	}
	im := &paper.Importer{Catalog: app.catalog, Preparer: app.api, Submitter: app.ingester, Lookup: app.db}
	if !dryRun {
		// A real import stages its rows as it checks them and commits them in one move
		// (queries.Staging). First, what earlier imports that crashed left behind.
		rec, err := app.db.RecoverImports(ctx, queries.ImportLeaseTimeout)
		if err != nil {
			// Refused before the workflow starts, and audited as the workflow would.
			event := collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Sites: []string{site},
				Action: "import", Outcome: "failed", Detail: "store unavailable"}
			if aerr := app.db.Audit(context.WithoutCancel(ctx), event); aerr != nil {
				app.log.Error("audit failed", "action", event.Action, "err", aerr)
			}
			return fmt.Errorf("import: %w", err)
		}
		if rec != (queries.ImportRecovery{}) {
			app.log.Info("imports recovered", "dropped", rec.Dropped, "completed", rec.Completed)
		}
		im.Stager = stager{app.db}
	}
	job := paper.Job{Source: in, Options: paper.Options{Site: site, Questionnaire: questionnaire, DryRun: dryRun},
		Actor: "cli", Role: "operator"}
	if report != "" {
		job.Annotate = paper.AnnotateAlways
	}
	// Once checked, before anything is stored: the problems, and the report.
	var reportErr error // job.Checked's, already worded
	job.Checked = func(o *paper.Outcome) error {
		for _, p := range o.Batch.Problems {
			fmt.Fprintln(stdout, p)
		}
		for _, d := range o.Batch.Duplicates {
			fmt.Fprintln(stdout, l.T("cli.import.duplicate", d.Row, d.SameAs))
		}
		if report == "" {
			return nil
		}
		if o.AnnotateErr != nil {
			reportErr = fmt.Errorf("import: %w", o.AnnotateErr)
			return reportErr
		}
		// The report holds the answers of the file: readable by its owner only.
		if err := collector.WriteFileAtomic(report, o.Annotated, 0o600); err != nil {
			reportErr = fmt.Errorf("import: report: %w", err)
			return reportErr
		}
		fmt.Fprintln(stdout, l.T("cli.import.report_written", report))
		return nil
	}
	o, err := paper.Import(ctx, im, app.db, app.now(), job)
	var auditErr error // everything else succeeded: say what, then that it was not audited
	if ae := (*collector.AuditError)(nil); errors.As(err, &ae) {
		auditErr, err = fmt.Errorf("import: audit: %w", ae.Err), nil
	}
	if o == nil {
		return fmt.Errorf("import %s: %w", path, err) // the file could not be checked
	}
	b := o.Batch
	rows := l.T("cli.import.rows", b.Rows)
	if n := len(b.Duplicates); n > 0 {
		rows += l.T("cli.import.rows_repeating", n)
	}
	problems := l.T("cli.import.problems", o.Problems, b.RowsWithProblems())
	switch {
	case reportErr != nil:
		return reportErr
	case errors.Is(err, paper.ErrNoRows):
		return errors.New(l.T("cli.import.no_rows", path))
	case errors.Is(err, paper.ErrProblems) && dryRun:
		fmt.Fprintln(stdout, l.T("cli.import.dry_run_problems", rows, problems))
		return errors.New(l.T("cli.import.dry_run_found", problems))
	case errors.Is(err, paper.ErrProblems):
		fmt.Fprintln(stdout, l.T("cli.import.problems_nothing_stored", rows, problems))
		return errors.New(l.T("cli.import.nothing_stored", problems))
	case err != nil:
		return fmt.Errorf("import %s: %w", path, err)
	case dryRun:
		fmt.Fprintln(stdout, l.T("cli.import.dry_run_ok", rows, b.Valid()-b.Existing, b.Existing))
		return auditErr
	}
	fmt.Fprintln(stdout, l.T("cli.import.done", rows, o.Stored.Stored, o.Stored.Replayed))
	return auditErr
}

// stager stages the rows of an import in a ClickHouse staging table (queries.Staging).
type stager struct{ db *queries.DB }

var _ paper.Stager = stager{}

func (s stager) Stage(ctx context.Context) (paper.Staging, error) {
	st, err := s.db.Stage(ctx)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, _ := filepath.Abs(a)
	absB, _ := filepath.Abs(b)
	return absA == absB
}

// parseInterspersed parses flags placed before and after positional arguments
// (tamtam import FILE --site haren), which the flag package alone stops at, and returns
// the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s: see the flags above", fs.Name())
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil // everything after "--" is positional
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
