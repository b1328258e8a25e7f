package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// The benchmarks of DESIGN.md §7, run by `make bench`. Each measures tamtam and its
// baseline side by side in the same run on the same machine and prints the ratio; they
// assert nothing about time (a slow machine is not a failure).

// loadResult is what a load run measured.
type loadResult struct {
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	errors   int
}

func (r loadResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// generateLoad posts bodies to url from `conns` concurrent keep-alive connections for d,
// and measures throughput and latency. A body is never sent twice.
func generateLoad(url, token string, bodies [][]byte, conns int, d time.Duration) loadResult {
	transport := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		next      int
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			bad := 0
			for time.Now().Before(deadline) {
				mu.Lock()
				if next == len(bodies) {
					mu.Unlock()
					break
				}
				body := bodies[next]
				next++
				mu.Unlock()
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					bad++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := loadResult{requests: len(latencies), elapsed: time.Since(start), errors: errs}
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		r.p50, r.p99 = latencies[n/2], latencies[n*99/100]
	}
	return r
}

// bareGin is the baseline: a Gin handler that only decodes the same JSON and answers 201.
func bareGin() http.Handler {
	r := gin.New()
	r.POST("/api/v1/submissions", func(c *gin.Context) {
		var v map[string]any
		if err := json.NewDecoder(c.Request.Body).Decode(&v); err != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		c.JSON(http.StatusCreated, gin.H{"submission_id": v["submission_id"], "status": "stored"})
	})
	return r
}

func demoBodies(n int) [][]byte {
	gen := collector.NewDemo(2025, 99, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	out := make([][]byte, 0, n)
	for len(out) < n {
		var m map[string]any
		json.Unmarshal(gen.Next().Body, &m)
		m["site"] = "haren"
		b, _ := json.Marshal(m)
		out = append(out, b)
	}
	return out
}

// BenchmarkIngest: single-submission POSTs with durable acknowledgement (fsynced in the
// spool), 32 concurrent connections, against the bare Gin baseline (target ratio >= 0.5,
// p99 <= 50 ms).
func BenchmarkIngest(b *testing.B) {
	const conns, d = 32, 5 * time.Second
	bodies := demoBodies(400_000)

	base := httptest.NewServer(bareGin())
	baseline := generateLoad(base.URL+"/api/v1/submissions", "x", bodies, conns, d)
	base.Close()

	database := chtest.NewDatabase(b)
	data := b.TempDir()
	cfg := Config{Data: data, ClickHouse: clickhouseURL(database), LogLevel: "warn", Spool: true, SpoolMaxBytes: 4 << 30}
	app, err := NewApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	bearer, tok, err := collector.NewTokenFor(collector.RoleIntake, []string{"haren"}, "bench", app.sites, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := app.db.CreateToken(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	stop := profileCPU(b, "ingest")
	tamtam := generateLoad(srv.URL+"/api/v1/submissions", bearer, bodies, conns, d)
	stop()
	srv.Close()
	app.Close()

	ratio := tamtam.rate() / baseline.rate()
	fmt.Printf("\ningest, %d connections, %s each (durable: fsynced in the spool before 201)\n", conns, d)
	fmt.Printf("  %-28s %10s %10s %10s %7s\n", "", "req/s", "p50", "p99", "errors")
	fmt.Printf("  %-28s %10.0f %10s %10s %7d\n", "bare Gin (decode + 201)", baseline.rate(), baseline.p50.Round(10*time.Microsecond), baseline.p99.Round(10*time.Microsecond), baseline.errors)
	fmt.Printf("  %-28s %10.0f %10s %10s %7d\n", "tamtam POST /submissions", tamtam.rate(), tamtam.p50.Round(10*time.Microsecond), tamtam.p99.Round(10*time.Microsecond), tamtam.errors)
	fmt.Printf("  ratio %.2f (target >= 0.50), p99 %s (target <= 50ms)\n", ratio, tamtam.p99.Round(100*time.Microsecond))
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(tamtam.p99.Microseconds())/1000, "p99-ms")
}

// profileCPU profiles the CPU of the test process, load generator included, into
// $TAMTAM_BENCH_PROFILES/name.cpu when that variable names a directory, until the
// returned function is called: the profile of the measured phase only, not of the set-up
// (`go test -cpuprofile` covers the whole benchmark).
func profileCPU(b *testing.B, name string) (stop func()) {
	dir := os.Getenv("TAMTAM_BENCH_PROFILES")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, name+".cpu"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// BenchmarkReport: `tamtam report` for a year of 1,000,000 submissions (target <= 10 s)
// and its peak memory at 1 M and 10 M (target: within 20% of each other). The rows are
// generated through the validation path once (100,000) and multiplied in ClickHouse
// with new ids, which is what a year of real data looks like to the report.
func BenchmarkReport(b *testing.B) {
	exe := filepath.Join(b.TempDir(), "tamtam")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	database := chtest.NewDatabase(b)
	url := clickhouseURL(database)
	data := b.TempDir()
	run := func(env []string, args ...string) (time.Duration, int64) {
		b.Helper()
		cmd := exec.Command(exe, append(args, "--data", data, "--clickhouse", url, "--log-level", "warn")...)
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		peak, err := runMeasured(cmd)
		if err != nil {
			b.Fatalf("tamtam %v: %v\n%s", args, err, stderr.String())
		}
		return time.Since(start), peak
	}
	run(nil, "demo", "--year", "2025", "--n", "100000")
	multiply := func(target int) {
		for {
			n := clickhouseClient(b, database, "SELECT count() FROM submissions WHERE year = 2025")
			var have int
			fmt.Sscan(n, &have)
			if have >= target {
				return
			}
			copies := min(have, target-have)
			clickhouseClient(b, database, fmt.Sprintf(`INSERT INTO submissions
				SELECT concat(substring(submission_id, 1, 24), lower(hex(cityHash64(submission_id, '%d'))) ) AS submission_id,
				questionnaire, version, site, year, month, consent, gender, age_band, nationality_group,
				if(link_id = '', '', lower(hex(SHA256(concat(link_id, '%d'))))), key_id, fingerprint, answer_item, answer_value, received_at
				FROM submissions WHERE year = 2025 LIMIT %d`, have, have, copies))
		}
	}
	type result struct{ release, report, releaseRSS, reportRSS float64 }
	results := map[int]result{}
	for _, rows := range []int{1_000_000, 10_000_000} {
		multiply(rows)
		clickhouseClient(b, database, "OPTIMIZE TABLE submissions FINAL")
		// Making the release scans the year and protects it; the report renders it.
		rel, relRSS := run(nil, "release", "--year", "2025")
		d, _ := run(nil, "report", "--year", "2025", "--out", filepath.Join(data, fmt.Sprintf("out-%d", rows)))
		// Peak memory of tamtam itself: the rusage of a process includes the children it
		// waited for, so Chromium (the figures) is kept out of this second run.
		_, rss := run([]string{"PATH=/nonexistent"}, "report", "--year", "2025", "--out", filepath.Join(data, fmt.Sprintf("mem-%d", rows)))
		results[rows] = result{rel.Seconds(), d.Seconds(), float64(relRSS) / 1024, float64(rss) / 1024}
	}
	growth := results[10_000_000].releaseRSS/results[1_000_000].releaseRSS - 1
	fmt.Printf("\nrelease and report (all outputs: workbook, HTML, CSV, %s)\n", figuresNote())
	for _, rows := range []int{1_000_000, 10_000_000} {
		r := results[rows]
		fmt.Printf("  %d submissions: release %.1f s (peak RSS %.0f MiB) + report %.1f s (peak RSS %.0f MiB without Chromium) = %.1f s (target <= 10 s at 1 M)\n",
			rows, r.release, r.releaseRSS, r.report, r.reportRSS, r.release+r.report)
	}
	fmt.Printf("  peak memory growth of the release 1 M -> 10 M: %+.0f%% (target within 20%%)\n", 100*growth)
	b.ReportMetric(results[1_000_000].release+results[1_000_000].report, "s-1M")
	b.ReportMetric(100*growth, "mem-growth-%")
}

func figuresNote() string {
	if _, err := exec.LookPath("chromium"); err == nil {
		return "figures in Chromium"
	}
	return "figures skipped: no Chromium"
}

// writeImportCSV writes n generated entry questionnaires as a CSV with the template's
// headers (item codes; multi answers joined by ";", "-" for none).
func writeImportCSV(b testing.TB, path string, n int) {
	b.Helper()
	catalog, err := collector.BuiltinCatalog()
	if err != nil {
		b.Fatal(err)
	}
	d, _ := catalog.Latest("entry")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := csv.NewWriter(f)
	header := []string{"submission_id"}
	for _, it := range d.Items {
		header = append(header, it.Code)
	}
	w.Write(header)
	gen := collector.NewDemo(2025, 5, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	row := make([]string, len(header))
	for range n {
		var m struct {
			ID      string         `json:"submission_id"`
			Answers map[string]any `json:"answers"`
		}
		json.Unmarshal(gen.Next().Body, &m)
		row[0] = m.ID
		for i, it := range d.Items {
			switch v := m.Answers[it.Code].(type) {
			case nil:
				row[i+1] = ""
			case string:
				row[i+1] = v
			case float64:
				row[i+1] = fmt.Sprint(int(v))
			case []any:
				parts := make([]string, len(v))
				for j, p := range v {
					parts[j] = p.(string)
				}
				row[i+1] = strings.Join(parts, ";")
				if len(parts) == 0 {
					row[i+1] = "-"
				}
			}
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkImport: `tamtam import` of a 1,000,000-row CSV against clickhouse-client
// inserting the equivalent stored rows as CSV (target ratio >= 0.5).
func BenchmarkImport(b *testing.B) {
	const rows = 1_000_000
	exe := filepath.Join(b.TempDir(), "tamtam")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	dir := b.TempDir()
	input := filepath.Join(dir, "entry.csv")
	writeImportCSV(b, input, rows)
	database := chtest.NewDatabase(b)
	cmd := exec.Command(exe, "import", input, "--site", "haren", "--data", dir, "--clickhouse", clickhouseURL(database), "--log-level", "warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	peakKiB, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("tamtam import: %v\n%s", err, tailString(out.String(), 2000))
	}
	tamtam := time.Since(start)
	usage := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	peak := float64(peakKiB) / 1024
	cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	// tamtam's import attaches its parts (four or five a million rows) for ClickHouse to merge in
	// the background; the baseline must not run beside those merges.
	waitMerges(b, database)

	// The baseline inserts what tamtam stored, as CSV, into an empty copy of the table.
	stored := filepath.Join(dir, "stored.csv")
	clickhouseClient(b, database, "CREATE TABLE baseline AS submissions")
	ep := chtest.Endpoint()
	host, port, _ := strings.Cut(ep.Addr, ":")
	client := []string{"--host", host, "--port", port, "--user", ep.User, "--password", ep.Password, "--database", database}
	export := exec.Command("clickhouse-client", append(client, "--query", "SELECT * FROM submissions FORMAT CSV")...)
	f, _ := os.Create(stored)
	export.Stdout = f
	if err := export.Run(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	in, _ := os.Open(stored)
	defer in.Close()
	// The same memory limit as tamtam's large inserts, so that both take the rows in one block.
	insert := exec.Command("clickhouse-client", append(client, "--max_memory_usage", strconv.Itoa(16<<30), "--query", "INSERT INTO baseline FORMAT CSV")...)
	insert.Stdin = in
	start = time.Now()
	if outb, err := insert.CombinedOutput(); err != nil {
		b.Fatalf("clickhouse-client insert: %v\n%s", err, outb)
	}
	baseline := time.Since(start)
	n := clickhouseClient(b, database, "SELECT count() FROM baseline")
	ratio := baseline.Seconds() / tamtam.Seconds()
	fmt.Printf("\nimport of %d CSV rows (all or nothing: staged, then attached in one step)\n", rows)
	fmt.Printf("  tamtam import: %.1f s (%.0f rows/s), CPU %.1f s, peak RSS %.0f MiB\n", tamtam.Seconds(), rows/tamtam.Seconds(), cpu.Seconds(), peak)
	fmt.Printf("  clickhouse-client INSERT … FORMAT CSV of the %s stored rows: %.1f s\n", n, baseline.Seconds())
	fmt.Printf("  ratio %.2f (target >= 0.50)\n", ratio)
	b.ReportMetric(ratio, "ratio")
}

// runMeasured runs cmd and returns its peak resident memory in KiB: the VmHWM of its
// /proc status, read while it runs. The rusage of a child is no measure of it: on Linux a
// child's maxrss starts at the resident size of the process that forked it, and this
// test process holds hundreds of MiB of generated bodies.
func runMeasured(cmd *exec.Cmd) (int64, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	name := filepath.Base(cmd.Path)
	var (
		peak int64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			// Until the exec, the child shares this process's memory: skip its figures.
			if data, err := os.ReadFile(status); err == nil && procField(data, "Name") == name[:min(len(name), 15)] {
				if kib, err := strconv.ParseInt(strings.TrimSuffix(procField(data, "VmHWM"), " kB"), 10, 64); err == nil {
					peak = max(peak, kib)
				}
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	wg.Wait()
	return peak, err
}

// procField returns the value of a field of a /proc status file.
func procField(status []byte, name string) string {
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitMerges waits until ClickHouse merges no part of database.
func waitMerges(b *testing.B, database string) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for clickhouseClient(b, database, "SELECT count() FROM system.merges WHERE database = currentDatabase()") != "0" {
		if time.Now().After(deadline) {
			b.Fatal("ClickHouse still merging after 10 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// BenchmarkClusterIngest: ingest through two tamtam servers on a cluster of two shards of
// two replicas (four ClickHouse servers and ZooKeeper on this machine) against one server
// on one ClickHouse, 32 connections in all, durable acknowledgement. It prints the
// acknowledged rate and the stored rate (acknowledged submissions over the time until
// every one is readable in ClickHouse), and the ratios cluster / one node. On one machine
// the cluster only adds work (replication, a Distributed insert per shard): the ratio
// says what that costs, not what more machines would give.
func BenchmarkClusterIngest(b *testing.B) {
	const conns, d = 32, 5 * time.Second
	bodies := demoBodies(300_000)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	// serveOn starts n in-process tamtam servers on a store sharing one linkage key, and
	// a token; it returns their URLs, the token and a function that counts the stored.
	serveOn := func(clickhouse, cluster string, n int) (urls []string, bearer string, stored func() int, stop func()) {
		var apps []*App
		var srvs []*httptest.Server
		first := ""
		for i := range n {
			data := b.TempDir()
			if i == 0 {
				first = data
			} else { // the same linkage key on every server
				if out, err := exec.Command("cp", "-a", filepath.Join(first, "keys"), data).CombinedOutput(); err != nil {
					b.Fatalf("copy keys: %v %s", err, out)
				}
			}
			cfg := Config{Data: data, ClickHouse: clickhouse, Cluster: cluster, LogLevel: "warn", Spool: true, SpoolMaxBytes: 4 << 30}
			app, err := NewApp(context.Background(), cfg, logger)
			if err != nil {
				b.Fatal(err)
			}
			apps = append(apps, app)
			srv := httptest.NewServer(app.Handler())
			srvs = append(srvs, srv)
			urls = append(urls, srv.URL+"/api/v1/submissions")
		}
		bearer, tok, err := collector.NewTokenFor(collector.RoleIntake, []string{"haren"}, "bench", apps[0].sites, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if err := apps[0].db.CreateToken(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
		if err := apps[0].db.SyncReplicas(context.Background()); err != nil { // the token on every node
			b.Fatal(err)
		}
		stored = func() int {
			years, err := apps[0].db.YearsBefore(context.Background(), 1<<16-1)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, y := range years {
				n += int(y.Questionnaires)
			}
			return n
		}
		return urls, bearer, stored, func() {
			for i := range apps {
				srvs[i].Close()
				apps[i].Close()
			}
		}
	}
	// measure loads the servers with conns connections split between them, then waits
	// until every acknowledged submission is stored.
	measure := func(urls []string, bearer string, bodies [][]byte, stored func() int) (loadResult, time.Duration) {
		start := time.Now()
		results := make([]loadResult, len(urls))
		var wg sync.WaitGroup
		per := len(bodies) / len(urls)
		for i, url := range urls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = generateLoad(url, bearer, bodies[i*per:(i+1)*per], conns/len(urls), d)
			}()
		}
		wg.Wait()
		var all loadResult
		for _, r := range results {
			all.requests += r.requests
			all.errors += r.errors
			all.elapsed = max(all.elapsed, r.elapsed)
			all.p50, all.p99 = max(all.p50, r.p50), max(all.p99, r.p99)
		}
		for stored() < all.requests && time.Since(start) < 5*time.Minute {
			time.Sleep(50 * time.Millisecond)
		}
		return all, time.Since(start)
	}

	urls, bearer, stored, stop := serveOn(clickhouseURL(chtest.NewDatabase(b)), "", 1)
	one, oneStored := measure(urls, bearer, bodies[:len(bodies)/2], stored)
	stop()

	cluster := chtest.StartCluster(b)
	urls, bearer, stored, stop = serveOn(cluster.URL("tamtam"), chtest.ClusterName, 2)
	two, twoStored := measure(urls, bearer, bodies[len(bodies)/2:], stored)
	stop()

	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("\ningest on a cluster (2 shards x 2 replicas, ZooKeeper, all on this machine), %d connections, %s\n", conns, d)
	fmt.Printf("  %-34s %10s %10s %10s %7s\n", "", "acked/s", "stored/s", "p99", "errors")
	fmt.Printf("  %-34s %10.0f %10.0f %10s %7d\n", "one server, one ClickHouse", one.rate(), rate(one.requests, oneStored), one.p99.Round(100*time.Microsecond), one.errors)
	fmt.Printf("  %-34s %10.0f %10.0f %10s %7d\n", "two servers, the cluster", two.rate(), rate(two.requests, twoStored), two.p99.Round(100*time.Microsecond), two.errors)
	ratio := two.rate() / one.rate()
	fmt.Printf("  ratio cluster / one node: acknowledged %.2f, stored %.2f\n", ratio, rate(two.requests, twoStored)/rate(one.requests, oneStored))
	b.ReportMetric(ratio, "ratio")
}
