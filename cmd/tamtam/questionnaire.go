package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/collector/xlsform"
	"github.com/tamtam-ngo/tamtam/reports"
)

// cmdQuestionnaire checks definition files and lists the questionnaires loaded: neither
// needs the store.
func cmdQuestionnaire(_ context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	l := cliLang(getenv)
	if len(args) == 0 {
		return &usageError{l.T("cli.questionnaire.usage")}
	}
	switch args[0] {
	case "check":
		fs := flag.NewFlagSet("tamtam questionnaire check", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(args[1:]); err != nil {
			if err == flag.ErrHelp {
				return usagef("%s: see the flags above", fs.Name())
			}
			return usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return &usageError{l.T("cli.questionnaire.usage")}
		}
		return checkQuestionnaires(fs.Args(), stdout, getenv)
	case "list":
		var cfg Config
		fs := newFlagSet("questionnaire list", &cfg, stderr, getenv)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		cat, err := cfg.catalog()
		if err != nil {
			return err
		}
		return printQuestionnaires(stdout, cat, cfg.lang())
	case "import-xlsform":
		return importXLSForm(args[1:], stdout, stderr, getenv)
	}
	return &usageError{l.T("cli.questionnaire.usage")}
}

// checkQuestionnaires checks each file against the built-in questionnaires and prints
// every problem as FILE: ITEM: FIELD: message, or one line per sound file.
func checkQuestionnaires(files []string, stdout io.Writer, getenv func(string) string) error {
	l := cliLang(getenv)
	cat, err := collector.BuiltinCatalog()
	if err != nil {
		return err
	}
	bad, problems := 0, 0
	for _, name := range files {
		data, err := collector.ReadDefinitionFile(name)
		if err != nil {
			fmt.Fprintf(stdout, "%s: -: -: %v\n", name, errors.Unwrap(err))
			bad, problems = bad+1, problems+1
			continue
		}
		d, probs := cat.CheckFile(name, data)
		if len(probs) > 0 {
			for _, p := range probs {
				fmt.Fprintf(stdout, "%s: %s\n", name, p)
			}
			bad, problems = bad+1, problems+len(probs)
			continue
		}
		if err := reports.CheckRelations(d); err != nil {
			fmt.Fprintf(stdout, "%s: %s\n", name, collector.Problem{Field: "indicators", Message: err.Error()})
			bad, problems = bad+1, problems+1
			continue
		}
		fmt.Fprintln(stdout, l.T("cli.questionnaire.ok", name, d.ID, d.Version, len(d.Items)))
	}
	if bad > 0 {
		return &usageError{l.T("cli.questionnaire.check_failed", problems, bad, len(files))}
	}
	return nil
}

// printQuestionnaires writes a table of the versions loaded, their source and title.
func printQuestionnaires(w io.Writer, cat *collector.Catalog, lang words.Lang) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVERSION\tSOURCE\tITEMS\tTITLE")
	for _, id := range cat.IDs() {
		for _, v := range cat.Versions(id) {
			d, _ := cat.Get(id, v)
			src := "built-in"
			if d.Source() != "" {
				src = printable(d.Source())
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", id, v, src, len(d.Items), printable(d.Title.In(string(lang))))
		}
	}
	return tw.Flush()
}

// importXLSForm converts an XLSForm into a definition file checked as `questionnaire check`
// checks one, and writes it atomically; every problem of the form is printed as
// FORM: SHEET:ROW: why, and nothing is written.
func importXLSForm(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	l := cliLang(getenv)
	fs := flag.NewFlagSet("tamtam questionnaire import-xlsform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "questionnaire id (lower-case letters, digits and _)")
	version := fs.Int("version", 0, "questionnaire version (1 or more)")
	out := fs.String("out", "", "definition file to write")
	forms, err := parseInterspersed(fs, args) // the form may come before or after the flags
	if err != nil {
		return err
	}
	if len(forms) != 1 || *id == "" || *version < 1 || *out == "" {
		return &usageError{l.T("cli.questionnaire.usage")}
	}
	form := forms[0]
	if sameFile(form, *out) {
		return &usageError{l.T("cli.questionnaire.xlsform.same_file", *out)}
	}
	cat, err := collector.BuiltinCatalog()
	if err != nil {
		return err
	}
	data, probs, err := xlsform.ConvertFile(form, xlsform.Options{ID: *id, Version: *version, Catalog: cat})
	if err != nil {
		return &usageError{l.T("cli.questionnaire.xlsform.unreadable", form, errors.Unwrap(err))}
	}
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintf(stdout, "%s: %s\n", form, p)
		}
		return &usageError{l.T("cli.questionnaire.xlsform.failed", len(probs), form)}
	}
	d, cprobs := cat.CheckFile(*out, data)
	if len(cprobs) > 0 { // Convert checked it already
		return fmt.Errorf("questionnaire import-xlsform: %s: %v", form, cprobs)
	}
	if err := collector.WriteFileAtomic(*out, data, 0o644); err != nil {
		return fmt.Errorf("questionnaire import-xlsform: %w", err)
	}
	fmt.Fprintln(stdout, l.T("cli.questionnaire.xlsform.ok", form, *out, d.ID, d.Version, len(d.Items)))
	return nil
}
