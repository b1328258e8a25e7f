package queries_test

import (
	"bytes"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// openCluster opens and migrates database on the cluster.
func openCluster(t *testing.T, c *chtest.Cluster, database string) *queries.DB {
	t.Helper()
	db, err := queries.Open(t.Context(), c.Endpoint(), database, queries.Options{Cluster: chtest.ClusterName})
	if err != nil {
		t.Fatalf("Open on the cluster: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate on the cluster: %v", err)
	}
	return db
}

// nodeCounts returns, for each node of the cluster, the rows of query on that node alone
// once its replicas have caught up.
func nodeCounts(t *testing.T, c *chtest.Cluster, database, table, query string) []int {
	t.Helper()
	var out []int
	for i := range c.Nodes {
		node, err := queries.Open(t.Context(), c.Node(i), database, queries.Options{})
		if err != nil {
			t.Fatalf("open node %d: %v", i+1, err)
		}
		if err := node.Exec(t.Context(), "SYSTEM SYNC REPLICA "+database+"."+table); err != nil {
			t.Fatalf("node %d: SYSTEM SYNC REPLICA %s: %v", i+1, table, err)
		}
		n, err := node.Count(t.Context(), query)
		node.Close()
		if err != nil {
			t.Fatalf("node %d: %s: %v", i+1, query, err)
		}
		out = append(out, n)
	}
	return out
}

// TestClusterStore stores the same submissions on one server and on a real cluster (two
// shards of two replicas) and checks that only where rows live changes: the same
// indicator cells, the same release, an import all or nothing, a backup of one restored
// into the other, a year purged on every shard.
func TestClusterStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ZooKeeper and four ClickHouse servers; make test runs it")
	}
	cluster := chtest.StartCluster(t)
	ctx := t.Context()
	cdb := openCluster(t, cluster, "tamtam")
	single := chtest.NewDB(t)
	const year = 2025
	subs := demoData(t, single, year, 1500)
	demoData(t, cdb, year, 1500)

	// Rows are spread over both shards, and the two replicas of a shard hold the same.
	per := nodeCounts(t, cluster, "tamtam", "submissions_shard", "SELECT count() FROM submissions_shard FINAL")
	if per[0] != per[1] || per[2] != per[3] || per[0] == 0 || per[2] == 0 || per[0]+per[2] != len(subs) {
		t.Errorf("rows per node %v: want two shards, each on both its replicas, adding up to %d", per, len(subs))
	}
	// The small tables are everywhere.
	if n := nodeCounts(t, cluster, "tamtam", "schema_migrations", "SELECT count(DISTINCT version) FROM schema_migrations"); n[0] == 0 || n[0] != n[1] || n[0] != n[2] || n[0] != n[3] {
		t.Errorf("schema_migrations per node %v: want the same on every node", n)
	}

	cutOff, err := single.DataCutOff(ctx, year)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cdb.DataCutOff(ctx, year); err != nil || !c.Equal(cutOff) {
		t.Fatalf("DataCutOff on the cluster = %v, %v; one server: %v", c, err, cutOff)
	}
	sites, _ := collector.LoadSites("")
	var all []string
	for _, s := range sites.All() {
		all = append(all, s.Code)
	}
	cells := func(db *queries.DB) map[reports.IndicatorCell]int {
		cs, err := db.IndicatorCells(ctx, year, all, cutOff, builtinIndicators(t))
		if err != nil {
			t.Fatalf("IndicatorCells: %v", err)
		}
		m := map[reports.IndicatorCell]int{}
		for _, c := range cs {
			m[c]++
		}
		return m
	}
	if one, many := cells(single), cells(cdb); len(one) == 0 || !maps.Equal(one, many) {
		t.Errorf("indicator cells: %d on one server, %d on the cluster, or they differ", len(one), len(many))
	}

	// The same release, cell for cell.
	cat, err := reports.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := disclosure.NewPolicy(disclosure.DefaultConfig())
	release := func(db *queries.DB) *reports.Release {
		r, _, err := reports.NewPublisher(db, db, cat).Make(ctx, reports.MakeOptions{Year: year, Policy: pol, Sites: all,
			Actor: "cli", Role: "operator", Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		if err != nil {
			t.Fatalf("Make: %v", err)
		}
		return r
	}
	r1, r2 := release(single), release(cdb)
	if r1.Info().CellsSHA256 != r2.Info().CellsSHA256 || r1.Info().Cells != r2.Info().Cells || r1.Info().Cells == 0 {
		t.Errorf("release on one server %+v, on the cluster %+v: want the same cells", r1.Info(), r2.Info())
	}

	// An import: all of it, once, however often it is repeated.
	for range 2 {
		st, err := cdb.Stage(ctx)
		if err != nil {
			t.Fatalf("Stage on the cluster: %v", err)
		}
		recs := stagedRecords(40)
		for i := range recs {
			recs[i].Year, recs[i].Month = 2023, "2023-03"
		}
		if err := st.Add(ctx, recs); err != nil {
			t.Fatal(err)
		}
		if err := st.Stored(ctx, func(id, fingerprint string) {}); err != nil {
			t.Fatalf("Stored on the cluster: %v", err)
		}
		if err := st.Commit(ctx); err != nil {
			t.Fatalf("Commit on the cluster: %v", err)
		}
	}
	if n, err := cdb.Count(ctx, "SELECT count() FROM submissions WHERE year = 2023"); n != 40 || err != nil {
		t.Errorf("imported twice: %d rows of 2023 (%v), want 40", n, err)
	}
	if n, err := cdb.Count(ctx, "SELECT count() FROM system.tables WHERE database = 'tamtam' AND match(name, '^import_(stage|commit)_')"); n != 0 || err != nil {
		t.Errorf("%d staging tables left on the node (%v)", n, err)
	}

	// A year purged is gone from every shard.
	if err := cdb.DropYear(ctx, 2023); err != nil {
		t.Fatalf("DropYear on the cluster: %v", err)
	}
	if per := nodeCounts(t, cluster, "tamtam", "submissions_shard", "SELECT count() FROM submissions_shard WHERE year = 2023"); per[0]+per[1]+per[2]+per[3] != 0 {
		t.Errorf("rows of 2023 per node after the purge: %v", per)
	}

	// A backup of one server restored into the cluster, and the cluster's backed up
	// again: the same tables, rows and checksums.
	var file bytes.Buffer
	m1, err := single.Backup(ctx, &file, queries.BackupOptions{})
	if err != nil {
		t.Fatalf("Backup of one server: %v", err)
	}
	restored := openCluster(t, cluster, "restored")
	checked, err := queries.CheckBackup(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.Restore(ctx, bytes.NewReader(file.Bytes()), checked); err != nil {
		t.Fatalf("Restore into the cluster: %v", err)
	}
	m2, err := restored.Backup(ctx, &bytes.Buffer{}, queries.BackupOptions{})
	if err != nil {
		t.Fatalf("Backup of the cluster: %v", err)
	}
	sums := func(m *queries.BackupManifest) string {
		var b bytes.Buffer
		for _, tb := range m.Tables {
			fmt.Fprintf(&b, "%s %d %s\n", tb.Name, tb.Rows, tb.Checksum)
		}
		return b.String()
	}
	if sums(m1) != sums(m2) {
		t.Errorf("backup of one server:\n%s\nof the cluster it was restored into:\n%s", sums(m1), sums(m2))
	}
	infos, err := restored.ListReleases(ctx, year)
	if err != nil || len(infos) != 1 || infos[0].CellsSHA256 != r1.Info().CellsSHA256 {
		t.Errorf("releases restored into the cluster = %+v, %v", infos, err)
	}
}
