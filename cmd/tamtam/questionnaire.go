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
