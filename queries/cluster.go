package queries

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Cluster mode: tamtam on several ClickHouse servers (Options.Cluster names the cluster of
// their remote_servers configuration; DESIGN.md §4).
//
// The schema is the one of the migrations, created ON CLUSTER and made replicated:
//   - submissions, the only table that grows with the people interviewed, is sharded:
//     submissions_shard on every node is a ReplicatedReplacingMergeTree whose replicas
//     are the nodes of one shard, and submissions is a Distributed table over them,
//     sharded by cityHash64(toString(submission_id)). Every copy of a submission id —
//     a retry, a re-keyed row — lands on the same shard, so FINAL, which each shard
//     applies to its own rows, keeps one row per id as on one server.
//   - every other table (tokens, audit log, release ledger, sessions, leases) is small
//     and replicated in full on every node: a ReplicatedMergeTree whose replicas are all
//     the nodes. Any node answers for it alone.
//
// Writes to submissions go through the Distributed table with insert_distributed_sync=1:
// the INSERT returns once every shard's part is written, where the asynchronous default
// only queues the rows on the node that received them (rows acknowledged that way were
// lost when that node was killed, checked on 18.16). A subquery inside a query over
// submissions is written GLOBAL IN / GLOBAL JOIN wherever it reads submissions or a table
// local to one node: it is run once, by the node that received the query, and shipped to
// the shards (a link between an entry and a follow-up crosses shards; a staging table is
// on one node). On one server GLOBAL changes nothing. (The setting
// distributed_product_mode = global would do it for every query, but 18.16 takes only
// numeric settings from a client of its protocol.)
//
// Replication of the small tables is asynchronous: a token made through one node is seen
// by a server reading another node a moment later. The tamtam servers of a cluster list
// the nodes in the same order and use the first that answers, so they normally read and
// write the same node.

// clusterName is what a cluster name may be: it is written into DDL.
var clusterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,62}$`)

// shardTable is the per-shard table behind the Distributed table submissions.
const shardTable = "submissions_shard"

// Cluster returns the name of the cluster, or "" on one server.
func (db *DB) Cluster() string { return db.cluster }

// onCluster is " ON CLUSTER name" in cluster mode, "" otherwise.
func (db *DB) onCluster() string {
	if db.cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + db.cluster + "`"
}

// createTable matches the CREATE TABLE statements of the migrations: a name, columns, an
// engine with its arguments, and the clauses that follow.
var createTable = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+) (\(.*\))\s*ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?(.*)$`)

// clusterStatements rewrites one statement of a migration for the cluster: a table
// becomes replicated (and submissions sharded), created ON CLUSTER in the database named
// explicitly (a node running the DDL from the queue has no current database of ours).
func (db *DB) clusterStatements(stmt string) ([]string, error) {
	m := createTable.FindStringSubmatch(stmt)
	if m == nil {
		return nil, fmt.Errorf("a statement cluster mode cannot translate (only CREATE TABLE IF NOT EXISTS … ENGINE = …MergeTree): %.60q", stmt)
	}
	name, columns, engine, args, rest := m[1], m[2], m[3], m[4], m[5]
	path := "/clickhouse/tables/all/" + db.database + "/" + name
	local := name
	if name == "submissions" {
		path = "/clickhouse/tables/{shard}/" + db.database + "/" + shardTable
		local = shardTable
	}
	replicated := "'" + path + "', '{replica}'"
	if args != "" {
		replicated += ", " + args
	}
	out := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s %s ENGINE = Replicated%s(%s)%s",
		db.database, local, db.onCluster(), columns, engine, replicated, rest)}
	if name == "submissions" {
		out = append(out, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.submissions%s AS %s.%s ENGINE = Distributed(`%s`, %s, %s, cityHash64(toString(submission_id)))",
			db.database, db.onCluster(), db.database, shardTable, db.cluster, db.database, shardTable))
	}
	return out, nil
}

// nodeOnly marks a migration that only rewrites rows stored by tamtam versions older than
// cluster mode: a cluster is created at the current schema (its data comes from a
// backup), so it has no such rows, and the migration is recorded without running.
const nodeOnly = "-- tamtam: node only"

// migrationStatements returns the statements to run for m.
func (db *DB) migrationStatements(m migration) ([]string, error) {
	if db.cluster == "" {
		return m.statements, nil
	}
	if m.nodeOnly {
		return nil, nil
	}
	var out []string
	for _, stmt := range m.statements {
		s, err := db.clusterStatements(stmt)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", m.name, err)
		}
		out = append(out, s...)
	}
	return out, nil
}

// schemaMigrationsTable is the DDL of the table that records the migrations applied.
func (db *DB) schemaMigrationsTable() string {
	stmt := `CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = ReplacingMergeTree ORDER BY version`
	if db.cluster == "" {
		return stmt
	}
	s, err := db.clusterStatements(stmt)
	if err != nil {
		panic(err) // the statement above is translatable
	}
	return s[0]
}

// pinned returns a DB whose connections all go to one node — the first of the
// endpoint's that answers — for work that uses a table local to that node (the staging
// table of an import). On one server it is db itself; otherwise the caller closes it.
func (db *DB) pinned(ctx context.Context) (*DB, error) {
	if db.cluster == "" {
		return db, nil
	}
	var errs []error
	for _, addr := range db.ep.addrs() {
		p, err := db.onNode(ctx, addr)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// onNode returns a DB connected to the node at addr only; the caller closes it.
func (db *DB) onNode(ctx context.Context, addr string) (*DB, error) {
	ep := db.ep
	ep.Addr = addr
	conn, err := connect(ctx, ep, db.database, db.cluster)
	if err != nil {
		return nil, err
	}
	p := *db
	p.conn, p.ep = conn, ep
	return &p, nil
}

// closeIfPinned closes p when it is not db (a pinned DB of cluster mode).
func (db *DB) closeIfPinned(p *DB) {
	if p != nil && p != db {
		p.conn.Close()
	}
}

// clusterSettings are the settings of every query in cluster mode (see above).
func clusterSettings() map[string]any {
	return map[string]any{"insert_distributed_sync": 1}
}

// onLeaders runs a statement that changes partitions (ALTER … DROP PARTITION, TRUNCATE)
// of a replicated table. ClickHouse 18.16 runs such a statement on the leader replica:
// another replica forwards it there as the user "default", which a tamtam cluster need
// not have (and ON CLUSTER does the same). So on a cluster the statement is sent to every
// node that leads the table — one per shard for submissions_shard, one in all for the
// tables replicated everywhere — and ZooKeeper replicates it to the other replicas. On
// one server it runs on db. A leader that does not answer is an error: its shard keeps
// the rows until the statement is run again.
func (db *DB) onLeaders(ctx context.Context, table, stmt string, args ...any) error {
	if db.cluster == "" {
		return db.conn.Exec(ctx, stmt, args...)
	}
	var (
		errs []error
		ran  int
	)
	for _, addr := range db.ep.addrs() {
		node, err := db.onNode(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var leader uint8
		err = node.conn.QueryRow(ctx, "SELECT is_leader FROM system.replicas WHERE database = ? AND table = ?",
			db.database, table).Scan(&leader)
		if err == nil && leader == 1 {
			if err = node.conn.Exec(ctx, stmt, args...); err == nil {
				ran++
			}
		}
		node.conn.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", addr, err))
		}
	}
	if ran == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no node leads the replicas of %s", table))
	}
	return errors.Join(errs...)
}

// SyncReplicas waits until every replica of the database on every node that answers has
// fetched what the other replicas of its table hold (SYSTEM SYNC REPLICA). A read through
// the Distributed table takes one replica per shard, any of them: after SyncReplicas,
// whichever it takes holds every row written before the call. On one server it does
// nothing. A node that does not answer is skipped: it catches up when it is back, and
// reads do not go to it meanwhile.
func (db *DB) SyncReplicas(ctx context.Context) error {
	if db.cluster == "" {
		return nil
	}
	for _, addr := range db.ep.addrs() {
		node, err := db.onNode(ctx, addr)
		if err != nil {
			db.log.Warn("replicas not synced on a node that does not answer", "node", addr, "err", err)
			continue
		}
		err = node.syncLocalReplicas(ctx)
		node.conn.Close()
		if err != nil {
			return fmt.Errorf("queries: sync replicas on %s: %w", addr, err)
		}
	}
	return nil
}

func (db *DB) syncLocalReplicas(ctx context.Context) error {
	rows, err := db.conn.Query(ctx, "SELECT table FROM system.replicas WHERE database = ?", db.database)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		if !identifier.MatchString(t) {
			continue // not a table of ours
		}
		if err := db.conn.Exec(ctx, "SYSTEM SYNC REPLICA "+db.database+"."+t); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	return nil
}
