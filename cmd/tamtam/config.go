package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// Config is what every command needs to reach the store and the domain data.
type Config struct {
	Addr       string // serve only
	Data       string // data directory: embedded ClickHouse, linkage keys
	ClickHouse string // "embedded" or clickhouse://host:9000[,host:9000…]/db
	// Cluster names the ClickHouse cluster (its remote_servers entry) the store lives
	// on; "" for one server. It needs a clickhouse:// URL listing the nodes.
	Cluster   string
	SitesFile string // extra sites (CSV), added to the built-in Belgian prisons
	// Questionnaires is the directory of questionnaire definitions added to the built-in
	// ones; "" for DATA/questionnaires, which may be missing.
	Questionnaires string
	Lang           words.Lang // of the messages (TAMTAM_LANG)
	LogLevel       string
	RateLimit      float64 // requests per second per token; 0: off (serve only)
	// RecordBudget is how many records a token may submit a minute, bursts of twice
	// that, whatever the requests they come in; 0: off (serve only).
	RecordBudget int
	// Spool makes submissions durable in a local write-ahead log (serve only).
	Spool         bool
	SpoolMaxBytes int64
	// TLS is true when serve answers HTTPS itself (--tls-cert and --tls-key given): it
	// then speaks nothing else, so cookies can be Secure. Behind a TLS-terminating proxy
	// it is false.
	TLS     bool
	TLSCert string // PEM certificate chain (serve only)
	TLSKey  string // PEM private key, readable by its owner (and group) only (serve only)
	// MetricsAddr is where serve answers /metrics, apart from the API; "" for nowhere
	// (serve only). MetricsAddrSet is true when the operator chose it (flag or
	// environment): a failure to listen there then stops serve, while the default, taken
	// by another tamtam on the same machine, is only warned about.
	MetricsAddr    string
	MetricsAddrSet bool
}

// newFlagSet returns a flag set for cmd with the common flags bound to cfg, their
// defaults taken from the environment.
func newFlagSet(cmd string, cfg *Config, stderr io.Writer, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("tamtam "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&cfg.Data, "data", env("TAMTAM_DATA", "./var"), "data directory (env TAMTAM_DATA)")
	fs.StringVar(&cfg.ClickHouse, "clickhouse", env("TAMTAM_CLICKHOUSE", "embedded"),
		"embedded, or clickhouse://[user:password@]host:9000/database (env TAMTAM_CLICKHOUSE)")
	fs.StringVar(&cfg.Cluster, "cluster", env("TAMTAM_CLUSTER", ""),
		"name of the ClickHouse cluster the store lives on; the --clickhouse URL lists its nodes, host1:9000,host2:9000 (env TAMTAM_CLUSTER)")
	cfg.Lang = cliLang(getenv)
	fs.StringVar(&cfg.Questionnaires, "questionnaires", env("TAMTAM_QUESTIONNAIRES", ""),
		"directory of questionnaire definitions (*.json) added to the built-in ones; default DATA/questionnaires (env TAMTAM_QUESTIONNAIRES)")
	fs.StringVar(&cfg.SitesFile, "sites", env("TAMTAM_SITES", ""), "CSV file of extra sites (env TAMTAM_SITES)")
	fs.StringVar(&cfg.LogLevel, "log-level", env("TAMTAM_LOG_LEVEL", "info"), "debug, info, warn or error (env TAMTAM_LOG_LEVEL)")
	return fs
}

// parse parses args, turning every flag problem into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return usagef("%s: see the flags above", fs.Name())
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// lang is the language of the messages, English when unset.
func (c Config) lang() words.Lang {
	if c.Lang == "" {
		return words.EN
	}
	return c.Lang
}

// catalog loads the built-in questionnaires and those of the questionnaire directory: a
// directory the operator named must exist, the default one may not.
func (c Config) catalog() (*collector.Catalog, error) {
	cat, err := collector.BuiltinCatalog()
	if err != nil {
		return nil, err
	}
	dir, named := c.Questionnaires, c.Questionnaires != ""
	if !named {
		dir = filepath.Join(c.Data, "questionnaires")
	}
	if err := cat.AddDir(dir, named); err != nil {
		return nil, err
	}
	return cat, nil
}

func (c Config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, usagef("invalid --log-level %q", c.LogLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// stringList is a repeatable flag (--site a --site b), also accepting a,b.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*s = append(*s, part)
		}
	}
	if len(*s) == 0 {
		return fmt.Errorf("empty value")
	}
	return nil
}
