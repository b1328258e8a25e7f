// Command tamtam collects anonymised prison-health questionnaires and turns them into
// yearly figures. One binary, several subcommands:
//
//	tamtam serve    [--addr 127.0.0.1:8080] [--metrics-addr 127.0.0.1:9464|off] [--data ./var] [--clickhouse embedded|clickhouse://host:9000/db]
//	tamtam migrate  apply the schema migrations and exit
//	tamtam token create --role intake|coordinator|funder [--site CODE]... [--label TEXT] [--expires YYYY-MM-DD]
//	tamtam token list [--all] | tamtam token revoke ID
//	tamtam audit    [--since YYYY-MM-DD] [--action ACTION] [--limit 100]
//	tamtam demo     --year YYYY --n N [--seed S]
//	tamtam template --questionnaire entry --out FILE.xlsx [--lang fr|nl|en] [--version N]
//	tamtam import   FILE.xlsx|FILE.csv --site CODE [--dry-run] [--report OUT.xlsx] [--questionnaire ID]
//	tamtam release  --year YYYY [--cutoff T] [--k 5]   freeze the figures of a year; release list [--year YYYY]
//	tamtam report   --year YYYY --out DIR [--release ID] [--site CODE]... [--lang fr|nl|en] [--k 5] [--cutoff T]
//	tamtam sql      [--query SQL]   clickhouse-client on the store (embedded or not)
//	tamtam linkkey  list | rotate [--grace 90d] | destroy-expired   linkage key epochs
//	tamtam questionnaire check FILE... | list   questionnaire definition files
//	tamtam backup   --out FILE [--recipient AGE_PUBLIC_KEY]...   every table in one file, without keys
//	tamtam restore  FILE [--identity KEYFILE] [--check]   into an empty store, checked
//	tamtam purge    --before YEAR [--yes]   drop whole years of questionnaires
//
// Every subcommand takes --data, --clickhouse, --sites and --questionnaires, with the
// environment variables TAMTAM_DATA, TAMTAM_CLICKHOUSE, TAMTAM_SITES and
// TAMTAM_QUESTIONNAIRES as defaults. Exit codes: 0 ok,
// 1 runtime failure, 2 usage error; errors are one line on stderr. The messages are in
// the language of TAMTAM_LANG (fr, nl or en; default en), from the catalogue
// collector/words (texts/cli.json); flag help and tables stay in English.
//
// This package only parses flags, builds the logger, opens the store, wires the packages
// together and handles signals; the work is in collector and queries.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector/words"
)

// Gin's debug mode prints every route at start; tamtam logs through slog instead.
func init() { gin.SetMode(gin.ReleaseMode) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

const usage = `usage: tamtam COMMAND [flags]

commands:
  serve     start the HTTP server (ingest API, questionnaires)
  migrate   apply the schema migrations and exit
  token     manage access tokens: tamtam token create --role ROLE [--site CODE]... [--label TEXT] [--expires YYYY-MM-DD]
            tamtam token list [--all]; tamtam token revoke ID
  audit     print the audit log, newest first: tamtam audit [--since YYYY-MM-DD] [--action ACTION] [--limit 100]
  demo      store realistic synthetic questionnaires: tamtam demo --year YYYY --n N
  template  write the Excel data-entry template: tamtam template --questionnaire entry --out FILE.xlsx [--lang fr|nl|en]
  import    check and store filled-in templates or CSV: tamtam import FILE.xlsx|FILE.csv --site CODE [--dry-run] [--report OUT.xlsx]
  release   freeze a year's figures, protected with the year's earlier releases: tamtam release --year YYYY [--cutoff T] [--k 5]
            tamtam release list [--year YYYY]
  report    write a release's figures: tamtam report --year YYYY --out DIR [--release ID] [--site CODE]... [--lang fr|nl|en]
  sql       run clickhouse-client on the store: tamtam sql [--query SQL]
  linkkey   linkage keys: tamtam linkkey list; tamtam linkkey rotate [--grace 90d]; tamtam linkkey destroy-expired
  questionnaire  definition files: tamtam questionnaire check FILE...; tamtam questionnaire list [--questionnaires DIR]
  backup    copy every table of the store to one file: tamtam backup --out FILE [--recipient AGE_PUBLIC_KEY]...
  restore   load a backup into an empty store: tamtam restore FILE [--identity KEYFILE] [--check]
  purge     drop the questionnaires of whole years: tamtam purge --before YEAR [--yes]

run 'tamtam COMMAND -h' for the flags of a command`

// run executes one command line and returns the exit code. It is main without the
// process: tests call it with their own arguments, output and environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if _, err := words.Parse(getenv("TAMTAM_LANG"), words.EN); err != nil {
		fmt.Fprintln(stderr, "tamtam: TAMTAM_LANG:", err)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = cmdServe(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, rest, stdout, stderr, getenv)
	case "token":
		err = cmdToken(ctx, rest, stdout, stderr, getenv)
	case "audit":
		err = cmdAudit(ctx, rest, stdout, stderr, getenv)
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr, getenv)
	case "template":
		err = cmdTemplate(ctx, rest, stdout, stderr, getenv)
	case "import":
		err = cmdImport(ctx, rest, stdout, stderr, getenv)
	case "release":
		err = cmdRelease(ctx, rest, stdout, stderr, getenv)
	case "report":
		err = cmdReport(ctx, rest, stdout, stderr, getenv)
	case "sql":
		err = cmdSQL(ctx, rest, stdout, stderr, getenv)
	case "linkkey":
		err = cmdLinkkey(ctx, rest, stdout, stderr, getenv)
	case "questionnaire":
		err = cmdQuestionnaire(ctx, rest, stdout, stderr, getenv)
	case "backup":
		err = cmdBackup(ctx, rest, stdout, stderr, getenv)
	case "restore":
		err = cmdRestore(ctx, rest, stdout, stderr, getenv)
	case "purge":
		err = cmdPurge(ctx, rest, stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		err = &usageError{cliLang(getenv).T("cli.unknown_command", cmd)}
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "tamtam:", ue.msg)
		return 2
	default:
		fmt.Fprintln(stderr, "tamtam:", err)
		return 1
	}
}

// cliLang is the language of the messages: TAMTAM_LANG, checked by run; English by
// default.
func cliLang(getenv func(string) string) words.Lang {
	l, err := words.Parse(getenv("TAMTAM_LANG"), words.EN)
	if err != nil {
		return words.EN
	}
	return l
}
