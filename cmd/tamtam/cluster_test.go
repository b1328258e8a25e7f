package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// TestClusterUnderFaults runs two tamtam servers on a real cluster (two shards of two
// replicas) under load, kills one replica of each shard and one tamtam server with
// SIGKILL and restarts them, then checks the promise of every 2xx — each acknowledged
// submission stored exactly once — and that the release the cluster makes is the one a
// single server makes from the same submissions, cell for cell.
func TestClusterUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("long: a cluster of four ClickHouse servers under faults; make test runs it")
	}
	cluster := chtest.StartCluster(t)
	url := cluster.URL("tamtam")
	dataA, dataB := t.TempDir(), t.TempDir()
	clusterArgs := []string{"--clickhouse", url, "--cluster", chtest.ClusterName}
	cli := func(data string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(append(args, "--data", data), clusterArgs...)
		if code := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); code != 0 {
			t.Fatalf("tamtam %v = exit %d: %s", args, code, errOut.String())
		}
		return strings.TrimSpace(out.String())
	}
	token := cli(dataA, "token", "create", "--role", "intake", "--site", "haren")

	addrA, addrB := freeAddr(t), freeAddr(t)
	argsA := append([]string{"--data", dataA}, clusterArgs...)
	argsB := append([]string{"--data", dataB}, clusterArgs...)
	srvA := startServer(t, addrA, argsA...)
	// The servers of one store share its linkage and session keys (README: "Outgrowing
	// one machine"): the same person gets the same link id whichever server answers.
	for _, name := range []string{"keys", "session.key"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(dataA, name), dataB).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v %s", name, err, out)
		}
	}
	srvB := startServer(t, addrB, argsB...)

	la := &loadClient{token: token}
	la.base.Store(srvA.base)
	lb := &loadClient{token: token}
	lb.base.Store(srvB.base)
	lb.next.Store(1_000_000) // ids of their own
	stop := make(chan struct{})
	wa, wb := la.run(8, stop), lb.run(8, stop)
	acked := func() int64 { return la.got(201) + la.got(200) + lb.got(201) + lb.got(200) }

	time.Sleep(time.Second)
	for _, node := range []int{0, 2} { // the first replica of each shard
		pid := cluster.Kill(t, node)
		t.Logf("killed node %d (pid %d) with %d acknowledged", node+1, pid, acked())
		time.Sleep(1500 * time.Millisecond)
	}
	srvA.cmd.Process.Kill()
	srvA.cmd.Wait()
	t.Logf("killed tamtam server A with %d acknowledged", acked())
	time.Sleep(500 * time.Millisecond)
	srvA = startServer(t, addrA, argsA...)
	time.Sleep(2 * time.Second)
	close(stop)
	wa.Wait()
	wb.Wait()
	t.Logf("server A: 201 %d, 200 %d, 503 %d; server B: 201 %d, 200 %d, 503 %d",
		la.got(201), la.got(200), la.got(503), lb.got(201), lb.got(200), lb.got(503))
	for _, p := range []*serverProc{srvA, srvB} { // SIGTERM drains each spool
		if code := p.stop(); code != 0 {
			t.Errorf("serve exit after SIGTERM = %d; logs:\n%s", code, tail(p.logs.String(), 40))
		}
	}

	// Every acknowledged id once, read through the Distributed table once every
	// replica has caught up.
	db, err := queries.Open(t.Context(), cluster.Endpoint(), "tamtam", queries.Options{Cluster: chtest.ClusterName})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SyncReplicas(t.Context()); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range []*loadClient{la, lb} {
		l.acked.Range(func(k, _ any) bool {
			ids = append(ids, k.(string))
			return true
		})
	}
	if len(ids) < 100 {
		t.Fatalf("only %d submissions acknowledged: the test proves little", len(ids))
	}
	list := "'" + strings.Join(ids, "','") + "'"
	countOn := func(node int, q string) int {
		ep := cluster.Node(node)
		host, port, _ := strings.Cut(ep.Addr, ":")
		out := runClickhouseClient(t, q, "--host", host, "--port", port, "--user", ep.User, "--password", ep.Password, "--database", "tamtam")
		n, err := strconv.Atoi(out)
		if err != nil {
			t.Fatalf("node %d: %s: %q", node+1, q, out)
		}
		return n
	}
	count := func(q string) int { return countOn(1, q) } // a node that was not killed
	// The killed replicas are back and hold what their shard holds.
	var per []int
	for node := range cluster.Nodes {
		per = append(per, countOn(node, "SELECT count() FROM submissions_shard FINAL"))
	}
	if per[0] != per[1] || per[2] != per[3] || per[0]+per[2] < len(ids) {
		t.Errorf("rows per node %v after the restarts: want each shard's two replicas equal, %d in all", per, len(ids))
	}
	if n := count("SELECT uniqExact(submission_id) FROM submissions WHERE submission_id IN (" + list + ")"); n != len(ids) {
		t.Errorf("acknowledged ids on the cluster = %d, want all %d", n, len(ids))
	}
	if n := count("SELECT count() FROM submissions FINAL") - count("SELECT uniqExact(submission_id) FROM submissions"); n != 0 {
		t.Errorf("%d submissions counted twice through FINAL", n)
	}
	if n := count("SELECT count() - uniqExact(submission_id) FROM submissions"); n != 0 {
		t.Logf("%d duplicate rows before merges (FINAL counts them once)", n)
	}

	// The same submissions on one server, by backup and restore: the same release.
	single := chtest.NewDatabase(t)
	file := filepath.Join(t.TempDir(), "cluster.tar.gz")
	cli(dataA, "backup", "--out", file)
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"restore", file, "--data", t.TempDir(), "--clickhouse", clickhouseURL(single)},
		&out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("restore into one server = exit %d: %s", code, errOut.String())
	}
	one, err := queries.Open(t.Context(), chtest.Endpoint(), single, queries.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	cat, err := reports.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := disclosure.NewPolicy(disclosure.DefaultConfig())
	year := count("SELECT max(year) FROM submissions")
	release := func(db *queries.DB) reports.ReleaseInfo {
		r, _, err := reports.NewPublisher(db, db, cat).Make(t.Context(), reports.MakeOptions{Year: year, Policy: pol,
			Sites: []string{"haren"}, Actor: "cli", Role: "operator", Now: time.Now()})
		if err != nil {
			t.Fatalf("Make: %v", err)
		}
		return r.Info()
	}
	onCluster, onOne := release(db), release(one)
	if onCluster.Cells == 0 || onCluster.CellsSHA256 != onOne.CellsSHA256 || onCluster.Cells != onOne.Cells {
		t.Errorf("release on the cluster: %d cells, sha256 %s; on one server: %d cells, %s",
			onCluster.Cells, onCluster.CellsSHA256, onOne.Cells, onOne.CellsSHA256)
	}
	t.Logf("%d acknowledged, all stored once; release of %d cells identical (%s)", len(ids), onCluster.Cells,
		onCluster.CellsSHA256[:12])
}
