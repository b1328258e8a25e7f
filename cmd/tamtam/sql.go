package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// cmdSQL runs clickhouse-client on tamtam's store, so an operator can look at what is
// stored without digging the embedded server's port and password out of the data
// directory. The credentials go through a 0600 client config file, not the command line,
// where other users could read them in the process list.
func cmdSQL(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cfg   Config
		query string
	)
	fs := newFlagSet("sql", &cfg, stderr, getenv)
	fs.StringVar(&query, "query", "", "SQL to run; without it, an interactive session")
	if err := parse(fs, args); err != nil {
		return err
	}
	client, err := exec.LookPath("clickhouse-client")
	if err != nil {
		return fmt.Errorf("clickhouse-client not found: apt-get install -y clickhouse-client")
	}
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer app.Close()
	first, _, _ := strings.Cut(app.endpoint.Addr, ",") // a cluster: the first node
	host, port, err := net.SplitHostPort(first)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(cfg.Data, ".clickhouse-client-*.xml") // CreateTemp makes it 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	e := html.EscapeString
	fmt.Fprintf(f, "<config><host>%s</host><port>%s</port><user>%s</user><password>%s</password><database>%s</database></config>\n",
		e(host), e(port), e(app.endpoint.User), e(app.endpoint.Password), e(app.db.Database()))
	if err := f.Close(); err != nil {
		return err
	}
	cmdArgs := []string{"--config-file", filepath.Clean(f.Name())}
	if query != "" {
		cmdArgs = append(cmdArgs, "--query", query)
	}
	cmd := exec.CommandContext(ctx, client, cmdArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("clickhouse-client: %w", err)
	}
	return nil
}
