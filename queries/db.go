package queries

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DB is a connection to tamtam's ClickHouse database.
type DB struct {
	conn     driver.Conn
	ep       Endpoint
	database string
	cluster  string // "" on one server (cluster.go)
	log      *slog.Logger
	now      func() time.Time // the clock of leases, tokens, sessions and migrations
}

// Endpoint says how to reach a ClickHouse server over the native protocol: the address
// of a server given by URL ([ParseURL]) or the one the embedded launcher publishes.
// The JSON tags are those of the launcher's endpoint.json.
type Endpoint struct {
	Addr     string `json:"addr"` // host:port, or host:port,host:port,… for the nodes of a cluster
	User     string `json:"user"`
	Password string `json:"password"`
}

// Options configures Open.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Now is the clock of the times the store writes (import and release leases, token
	// and session versions, migrations) and of the age of import leases; nil means
	// time.Now. Tests move it to make leases expire without waiting.
	Now func() time.Time
	// Cluster names the ClickHouse cluster (remote_servers) the store lives on; "" is
	// one server. See cluster.go.
	Cluster string
}

// addrs returns the addresses of the endpoint, in the order connections try them.
func (ep Endpoint) addrs() []string { return strings.Split(ep.Addr, ",") }

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ParseURL reads a clickhouse://[user[:password]@]host[:port][,host[:port]…]/database
// URL (native protocol; port 9000 by default, database "tamtam" by default). Several
// hosts are the nodes of a cluster, tried in their order: the first that answers serves.
func ParseURL(raw string) (Endpoint, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return Endpoint{}, "", fmt.Errorf("queries: %q is not a clickhouse://host:9000/database URL", raw)
	}
	var hosts []string
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			return Endpoint{}, "", fmt.Errorf("queries: %q: an empty host in the list", raw)
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "9000")
		}
		hosts = append(hosts, h)
	}
	ep := Endpoint{Addr: strings.Join(hosts, ","), User: "default"}
	if u.User != nil {
		ep.User = u.User.Username()
		ep.Password, _ = u.User.Password()
	}
	db := strings.Trim(u.Path, "/")
	if db == "" {
		db = "tamtam"
	}
	if !databaseName.MatchString(db) {
		return Endpoint{}, "", fmt.Errorf("queries: invalid database name %q", db)
	}
	return ep, db, nil
}

// Open connects to the server at ep, creates database if needed and uses it. It does not
// migrate: call [DB.Migrate].
func Open(ctx context.Context, ep Endpoint, database string, opts Options) (*DB, error) {
	if !databaseName.MatchString(database) {
		return nil, fmt.Errorf("queries: invalid database name %q", database)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.Cluster != "" && !clusterName.MatchString(opts.Cluster) {
		return nil, fmt.Errorf("queries: invalid cluster name %q", opts.Cluster)
	}
	conn, err := connect(ctx, ep, database, opts.Cluster)
	if isException(err, 81) { // UNKNOWN_DATABASE: a first start
		if err := createDatabase(ctx, ep, database, opts.Cluster); err != nil {
			return nil, err
		}
		conn, err = connect(ctx, ep, database, opts.Cluster)
	}
	if err != nil {
		return nil, err
	}
	return &DB{conn: conn, ep: ep, database: database, cluster: opts.Cluster, log: log, now: now}, nil
}

// createDatabase creates database, which Open found missing. Only then: a least-privilege
// user may run no DDL at all, not even CREATE … IF NOT EXISTS. It connects without naming
// a database: naming "default" is refused to a user limited to its own database
// (allow_databases).
func createDatabase(ctx context.Context, ep Endpoint, database, cluster string) error {
	boot, err := connect(ctx, ep, "", cluster)
	if err != nil {
		return err
	}
	defer boot.Close()
	// The names are checked in Open: DDL takes no bound parameters.
	stmt := "CREATE DATABASE IF NOT EXISTS " + database
	if cluster != "" {
		stmt += " ON CLUSTER `" + cluster + "`"
	}
	if err := boot.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("queries: create database %s: %w", database, notAllowed(err))
	}
	return nil
}

func connect(ctx context.Context, ep Endpoint, database, cluster string) (driver.Conn, error) {
	var settings clickhouse.Settings
	if cluster != "" {
		settings = clusterSettings()
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:         clickhouse.Native, // the HTTP protocol fails on 18.16
		Addr:             ep.addrs(),
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		Settings:         settings,
		Auth:             clickhouse.Auth{Database: database, Username: ep.User, Password: ep.Password},
		DialTimeout:      5 * time.Second,
		MaxOpenConns:     16,
		MaxIdleConns:     8,
		ConnMaxLifetime:  time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("queries: connect %s: %w", ep.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("queries: connect %s: %w", ep.Addr, err)
	}
	return conn, nil
}

// Close closes the connection.
func (db *DB) Close() error { return db.conn.Close() }

// Database returns the name of the database in use.
func (db *DB) Database() string { return db.database }

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error { return db.conn.Ping(ctx) }

//go:embed migrations/*.sql
var migrationFiles embed.FS

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

type migration struct {
	version    int
	name       string
	statements []string
	nodeOnly   bool // see nodeOnly in cluster.go
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migration
	for _, path := range names {
		base := path[len("migrations/"):]
		m := migrationName.FindStringSubmatch(base)
		if m == nil {
			return nil, fmt.Errorf("queries: migration %s: name must be NNNN_name.sql", base)
		}
		v, _ := strconv.Atoi(m[1])
		if len(ms) > 0 && ms[len(ms)-1].version >= v {
			return nil, fmt.Errorf("queries: migration %s: version %d repeats or is out of order", base, v)
		}
		data, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, statements: splitStatements(string(data)),
			nodeOnly: strings.Contains(string(data), nodeOnly+"\n")})
	}
	return ms, nil
}

// splitStatements splits a migration on semicolons that end a line, dropping comments.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate applies the embedded migrations not yet recorded in schema_migrations and
// returns the names of those it applied. Statements are idempotent (IF NOT EXISTS), so a
// crash between a statement and its record, or two processes migrating at once, is safe:
// the next run repeats them harmlessly.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	// A least-privilege user (allow_ddl=0) may not even run CREATE … IF NOT EXISTS: an
	// up-to-date schema is checked by reading only.
	var tracked uint64
	if err := db.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = 'schema_migrations'",
		db.database).Scan(&tracked); err != nil {
		return nil, fmt.Errorf("queries: migrate: %w", err)
	}
	if tracked == 0 {
		if err := db.conn.Exec(ctx, db.schemaMigrationsTable()); err != nil {
			return nil, fmt.Errorf("queries: migrate: %w", migrateNotAllowed(err))
		}
	}
	done := map[int]bool{}
	rows, err := db.conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("queries: migrate: %w", err)
	}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queries: migrate: %w", err)
		}
		done[int(v)] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queries: migrate: %w", err)
	}
	var applied []string
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		stmts, err := db.migrationStatements(m)
		if err != nil {
			return applied, fmt.Errorf("queries: %w", err)
		}
		for _, stmt := range stmts {
			if err := db.conn.Exec(ctx, stmt); err != nil {
				return applied, fmt.Errorf("queries: migration %s: %w", m.name, migrateNotAllowed(err))
			}
		}
		if err := db.insertRow(ctx, "INSERT INTO schema_migrations (version, name, applied_at)",
			uint32(m.version), m.name, db.now().UTC()); err != nil {
			return applied, fmt.Errorf("queries: record migration %s: %w", m.name, err)
		}
		db.log.Info("migration applied", "migration", m.name, "database", db.database)
		applied = append(applied, m.name)
	}
	return applied, nil
}

// migrateNotAllowed says what to do when the user may not change the schema.
func migrateNotAllowed(err error) error {
	if err = notAllowed(err); errors.Is(err, ErrNotAllowed) {
		return fmt.Errorf("the schema needs a migration, which this ClickHouse user may not apply: run tamtam migrate with an administrative user first (%w)", err)
	}
	return err
}

// insertRow inserts one row through a prepared batch. On 18.16, an INSERT with values
// bound into its text hangs waiting for a data block; a batch with an explicit column list
// works on every version.
func (db *DB) insertRow(ctx context.Context, insert string, values ...any) error {
	batch, err := db.conn.PrepareBatch(ctx, insert)
	if err != nil {
		return err
	}
	defer batch.Close()
	if err := batch.Append(values...); err != nil {
		return err
	}
	return batch.Send()
}

// Tables returns the names of the tables of the database, for tests and checks that must
// cover every table (the anonymisation boundary).
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	rows, err := db.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db.database)
	if err != nil {
		return nil, fmt.Errorf("queries: tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("queries: tables: %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// isException reports whether err is a ClickHouse server exception with the given code,
// the one place where driver errors are inspected.
func isException(err error, code int32) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == code
}

// DropDatabase drops a database; tests use it to clean up.
func DropDatabase(ctx context.Context, ep Endpoint, database string) error {
	if !databaseName.MatchString(database) {
		return fmt.Errorf("queries: invalid database name %q", database)
	}
	conn, err := connect(ctx, ep, "default", "")
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database)
}
