package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTokenCreateUsageErrors(t *testing.T) {
	e := newTestEnv(t)
	tests := [][]string{
		{"token", "create", "--role", "admin"},
		{"token", "create", "--role", "intake"},
		{"token", "create", "--role", "intake", "--site", "atlantis"},
		{"token", "create", "--role", "coordinator", "--site", "haren"},
		{"token", "rotate"},
		{"token", "create", "--role", "intake", "--site", "haren", "extra"},
		{"frobnicate"},
	}
	for _, args := range tests {
		code, out, errOut := e.cli(args...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "tamtam: ") {
			t.Errorf("tamtam %v = exit %d, stdout %q, stderr %q; want exit 2 and one line on stderr", args, code, out, errOut)
		}
	}
	code, out, _ := e.cli("token", "create", "--role", "funder", "--site", "haren,mons", "--label", "AVIQ")
	if code != 0 || !regexp.MustCompile(`^tt_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Errorf("token create = exit %d, %q; want a tt_ token on one line", code, out)
	}
	// Only the hash is stored.
	if got := e.sql("SELECT role, sites, label, length(token_hash) FROM tokens"); got != "funder\t['haren','mons']\tAVIQ\t64" {
		t.Errorf("stored token = %q", got)
	}
	if strings.Contains(e.sql("SELECT * FROM tokens FORMAT TabSeparated"), strings.TrimSpace(out)) {
		t.Error("the bearer token is stored in clear")
	}
}

func TestDemo(t *testing.T) {
	e := newTestEnv(t)
	code, out, errOut := e.cli("demo", "--year", "2025", "--n", "2000")
	if code != 0 || !strings.Contains(out, "2000 entry") || !strings.Contains(out, "160 needs and 120 activity questionnaires") {
		t.Fatalf("demo = exit %d, %q, %s; want 2000 entry, 160 needs and 120 activity questionnaires", code, out, errOut)
	}
	// Plausible shape: refusals, several sites, linked follow-ups, drug use near two in three,
	// the field surveys beside them.
	got := e.sql(`SELECT
		countIf(questionnaire = 'entry'),
		countIf(questionnaire = 'needs'),
		countIf(questionnaire = 'activity'),
		uniqExactIf(site, questionnaire = 'needs') >= 10,
		countIf(questionnaire = 'entry' AND consent = 0) BETWEEN 150 AND 350,
		uniqExact(site) >= 10,
		countIf(questionnaire = 'followup') > 50,
		uniqExactIf(link_id, questionnaire = 'followup' AND link_id != '' AND link_id IN
			(SELECT link_id FROM submissions WHERE questionnaire = 'entry')) > 50,
		round(countIf(has(answer_item, 'drug.lifetime_any') AND answer_value[indexOf(answer_item, 'drug.lifetime_any')] = '1')
			/ countIf(questionnaire = 'entry' AND consent = 1), 1) BETWEEN 0.5 AND 0.8
		FROM submissions`)
	if got != "2000\t160\t120\t1\t1\t1\t1\t1\t1" {
		t.Errorf("demo data checks = %q, want 2000 entries, 160 needs, 120 activity and every check true", got)
	}
	// The demo report: the care indicators framed by nationality group, the field
	// surveys' indicators and the tables of their questions.
	dir := t.TempDir()
	if code, out, errOut := e.cli("report", "--year", "2025", "--out", dir, "--lang", "en"); code != 0 {
		t.Fatalf("report of the demo = exit %d, %q, %s", code, out, errOut)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "figures.csv"))
	page, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, want := range []string{"\nI23,nationality_group,BE,", "\nI27,total,,", "\nI28.provided,total,,", "\nN01,total,,", "\nP01,total,,",
		"\nwish.format=group,total,,", "\nactivity.type=peer_relay,total,,", ",needs\n", ",activity\n"} {
		if !strings.Contains(string(csv), want) {
			t.Errorf("figures.csv of the demo has no %q", want)
		}
	}
	for _, want := range []string{`id="theme-care"`, `id="answers-needs"`, `id="answers-activity"`, `id="N01"`, `id="P01"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html of the demo has no %s", want)
		}
	}
	// The same seed again stores nothing twice.
	code, out, _ = e.cli("demo", "--year", "2025", "--n", "2000")
	if code != 0 || !strings.Contains(out, ": 0 stored") {
		t.Errorf("second demo = exit %d, %q; want nothing stored", code, out)
	}
	if got := e.sql("SELECT count() = uniqExact(submission_id) FROM submissions"); got != "1" {
		t.Error("demo rerun duplicated rows")
	}
	if code, _, _ := e.cli("demo", "--year", "2031", "--n", "5"); code != 2 {
		t.Errorf("demo --year 2031 = exit %d, want 2", code)
	}
}

// TestServeEmbedded runs the default product path: tamtam serve starting its own
// ClickHouse under --data, a token created by a second process attaching to it, a
// submission, a clean stop on cancel, and a restart on the same data.
func TestServeEmbedded(t *testing.T) {
	data := t.TempDir()
	env := func(string) string { return "" }
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, io.Discard, pw, env)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`msg=listening addr=(http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case code := <-done:
		t.Fatalf("serve exited with %d before listening", code)
	case <-time.After(90 * time.Second):
		t.Fatal("serve did not start listening in 90 s")
	}

	var tokOut, tokErr bytes.Buffer
	if code := run(t.Context(), []string{"token", "create", "--role", "intake", "--site", "haren", "--data", data}, &tokOut, &tokErr, env); code != 0 {
		t.Fatalf("token create beside serve = exit %d: %s", code, tokErr.String())
	}
	tok := strings.TrimSpace(tokOut.String())
	post := func() int {
		b, _ := json.Marshal(entry(uuidN(5)))
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/submissions", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(); got != http.StatusCreated {
		t.Fatalf("POST = %d, want 201", got)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exit code after cancel = %d, want 0", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60 s of cancel")
	}

	// Restart on the same data: the record is still there (a replay answers 200).
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	pr2, pw2 := io.Pipe()
	done2 := make(chan int, 1)
	go func() {
		done2 <- run(ctx2, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, io.Discard, pw2, env)
		pw2.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr2)
		re := regexp.MustCompile(`msg=listening addr=(http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case base = <-addr:
	case <-time.After(90 * time.Second):
		t.Fatal("second serve did not start")
	}
	if got := post(); got != http.StatusOK {
		t.Errorf("replay after restart = %d, want 200", got)
	}
	cancel2()
	if code := <-done2; code != 0 {
		t.Errorf("second serve exit = %d", code)
	}
}

func TestSQL(t *testing.T) {
	e := newTestEnv(t)
	e.token("intake", "haren")
	code, out, errOut := e.cli("sql", "--query", "SELECT count(), any(role) FROM tokens")
	if code != 0 || out != "1\tintake\n" {
		t.Errorf("tamtam sql = exit %d, %q (%s), want 1\\tintake", code, out, errOut)
	}
}
