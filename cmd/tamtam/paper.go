package main

import (
	"bytes"
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
// the definitions are built in.
func cmdTemplate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg           Config
		questionnaire string
		version       int
		lang          string
		out           string
	)
	fs := newFlagSet("template", &cfg, stderr, getenv)
	fs.StringVar(&questionnaire, "questionnaire", "entry", "questionnaire: entry or followup")
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
	catalog, err := collector.BuiltinCatalog()
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
	fmt.Fprintf(stdout, "template %s: %s version %d, %d items, %s\n", out, d.ID, d.Version, len(d.Items), lang)
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
		return usagef("import: --report must name another file than the one imported")
	}
	known, err := collector.LoadSites(cfg.SitesFile)
	if err != nil {
		return err
	}
	if _, ok := known.Get(site); !ok {
		return usagef("import: unknown site %q", site)
	}
	in, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer in.Close()
	app, err := startApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	// Every import and check is audited (who, site, counts, outcome; never a cell), as
	// on the import page.
	event := collector.AuditEvent{At: app.now(), Actor: "cli", Role: "operator", Sites: []string{site}, Action: "import", Outcome: "failed"}
	if dryRun {
		event.Action = "import.check"
	}
	defer func() {
		if err == nil {
			event.Outcome = "ok"
		}
		if aerr := app.db.Audit(context.WithoutCancel(ctx), event); aerr != nil && err == nil {
			err = fmt.Errorf("import: audit: %w", aerr)
		}
	}()
	im := &paper.Importer{Catalog: app.catalog, Preparer: app.api, Submitter: app.ingester, Lookup: app.db}
	if !dryRun {
		// A real import stages its rows as it checks them and commits them in one move
		// (queries.Staging). First, what earlier imports that crashed left behind.
		rec, err := app.db.RecoverImports(ctx, queries.ImportLeaseTimeout)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if rec != (queries.ImportRecovery{}) {
			app.log.Info("imports recovered", "dropped", rec.Dropped, "completed", rec.Completed)
		}
		im.Stager = stager{app.db}
	}
	b, err := im.Check(ctx, in, paper.Options{Site: site, Questionnaire: questionnaire, CountExisting: dryRun, DryRun: dryRun})
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	// Interrupted before Store (a usage error below, a signal), the staging goes.
	defer b.Discard(context.WithoutCancel(ctx))
	for _, p := range b.Problems {
		fmt.Fprintln(stdout, p)
	}
	for _, d := range b.Duplicates {
		fmt.Fprintf(stdout, "row %d: same answers as row %d: one questionnaire, counted once\n", d.Row, d.SameAs)
	}
	if report != "" {
		if err := writeImportReport(report, path, b); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", report)
	}
	rows := fmt.Sprintf("%d questionnaire rows", b.Rows)
	if n := len(b.Duplicates); n > 0 {
		rows += fmt.Sprintf(" (%d repeating an earlier row)", n)
	}
	problems := fmt.Sprintf("%d problems in %d rows", len(b.Problems), b.RowsWithProblems())
	event.Detail = fmt.Sprintf("%s v%d: %d rows, %d problems", b.Questionnaire, b.Version, b.Rows, len(b.Problems))
	switch {
	case b.Rows == 0 && len(b.Problems) == 0:
		return fmt.Errorf("import %s: no questionnaire rows (they start at row 3 of the template)", path)
	case dryRun && len(b.Problems) > 0:
		fmt.Fprintf(stdout, "dry run: %s, %s; nothing stored\n", rows, problems)
		return fmt.Errorf("import: dry run found %s", problems)
	case dryRun:
		fmt.Fprintf(stdout, "dry run: %s, no problem: %d would be stored, %d already there; nothing stored\n",
			rows, b.Valid()-b.Existing, b.Existing)
		return nil
	case len(b.Problems) > 0:
		fmt.Fprintf(stdout, "import: %s, %s; nothing stored\n", rows, problems)
		return fmt.Errorf("import: nothing stored: %s", problems)
	}
	res, err := im.Store(ctx, b)
	event.Detail += fmt.Sprintf(", %d stored, %d already there", res.Stored, res.Replayed)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "import: %s: %d stored, %d already there\n", rows, res.Stored, res.Replayed)
	return nil
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

// writeImportReport writes the report of batch b, read from path, to out. It holds the
// answers of the file: readable by its owner only.
func writeImportReport(out, path string, b *paper.Batch) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: report: %w", err)
	}
	defer src.Close()
	var buf bytes.Buffer
	if err := paper.WriteReport(&buf, src, b); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if err := collector.WriteFileAtomic(out, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("import: report: %w", err)
	}
	return nil
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
