package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// exitDefinition is a small questionnaire an NGO adds without a rebuild: consent, the
// month that dates the record and two choice items.
const exitDefinition = `{
  "id": "exit", "version": 1,
  "title": {"fr": "Questionnaire de sortie", "nl": "Vrijlatingsvragenlijst", "en": "Release questionnaire"},
  "description": {"fr": "Avant la libération.", "nl": "Voor de vrijlating.", "en": "Before release."},
  "items": [
    {"code": "meta.consent", "type": "choice", "required": true, "list": "yn",
     "label": {"fr": "Acceptez-vous ?", "nl": "Gaat u akkoord?", "en": "Do you agree?"}},
    {"code": "meta.exit_month", "type": "month", "required": true, "min": "2015-01", "not_future": true,
     "label": {"fr": "Mois de sortie", "nl": "Maand van vrijlating", "en": "Month of release"}},
    {"code": "care.plan", "type": "choice", "list": "yn", "when": [{"item": "meta.consent", "in": ["1"]}],
     "label": {"fr": "Soins prévus ?", "nl": "Zorg gepland?", "en": "Care planned?"}},
    {"code": "care.place", "type": "choice", "when": [{"item": "care.plan", "in": ["1"]}],
     "label": {"fr": "Où ?", "nl": "Waar?", "en": "Where?"},
     "choices": [{"code": "gp", "label": {"fr": "Médecin", "nl": "Huisarts", "en": "GP"}},
                 {"code": "clinic", "label": {"fr": "Clinique", "nl": "Kliniek", "en": "Clinic"}}]}
  ]
}`

// restart closes e's app and starts a new one on the same data directory and database,
// as an operator restarts serve; it returns NewApp's error.
func (e *testEnv) restart() error {
	e.t.Helper()
	e.srv.Close()
	e.app.Close()
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := NewApp(e.t.Context(), e.cfg, log)
	if err != nil {
		// Leave a closed app and server behind for the cleanup.
		e.srv = httptest.NewServer(http.NotFoundHandler())
		e.app = &App{}
		return err
	}
	e.app = app
	e.srv = httptest.NewServer(app.Handler())
	return nil
}

// TestQuestionnaireDirectory: a definition dropped in DATA/questionnaires is served,
// answered, shown as a form, given a template and imported after a restart; once it holds
// data, changing it stops the start until its version is raised.
func TestQuestionnaireDirectory(t *testing.T) {
	e := newTestEnv(t)
	dir := filepath.Join(e.cfg.Data, "questionnaires")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "exit.json")
	if err := os.WriteFile(file, []byte(exitDefinition), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.restart(); err != nil {
		t.Fatalf("restart with exit.json: %v", err)
	}
	intake := e.token("intake", "haren")

	r := e.do(http.MethodGet, "/api/v1/questionnaires", intake, "", nil)
	if r.status != 200 || !strings.Contains(r.raw, `"id":"exit","version":1,"versions":[1]`) {
		t.Fatalf("GET /api/v1/questionnaires = %d %s, want exit listed", r.status, r.raw)
	}
	sub := map[string]any{"submission_id": uuidN(1), "questionnaire": "exit", "version": 1, "site": "haren",
		"answers": map[string]any{"meta.consent": "1", "meta.exit_month": "2025-06", "care.plan": "1", "care.place": "clinic"}}
	if r := e.post("/api/v1/submissions", intake, sub); r.status != http.StatusCreated {
		t.Fatalf("POST exit submission = %d %s, want 201", r.status, r.raw)
	}
	if got := e.sql("SELECT questionnaire, version, year, month FROM submissions FINAL WHERE has(answer_item, 'care.place')"); got != "exit\t1\t2025\t2025-06" {
		t.Errorf("stored exit record = %q", got)
	}

	w := newWebClient(t, e)
	w.signIn(intake)
	if p := w.get("/forms/exit?lang=en"); p.status != 200 || !strings.Contains(p.body, "Care planned?") || !strings.Contains(p.body, "Month of release") {
		t.Errorf("GET /forms/exit = %d, want the form with its items", p.status)
	}

	tmpl := filepath.Join(t.TempDir(), "exit.xlsx")
	code, out, errOut := e.cli("template", "--questionnaire", "exit", "--lang", "en", "--out", tmpl)
	if code != 0 || out != "template "+tmpl+": exit version 1, 4 items, en\n" {
		t.Fatalf("template --questionnaire exit = exit %d, %q, %q", code, out, errOut)
	}
	filled := filepath.Join(filepath.Dir(tmpl), "filled.xlsx")
	paperFill(t, tmpl, filled, []map[string]any{
		{"meta.consent": "1", "meta.exit_month": "2025-07", "care.plan": "1", "care.place": "gp"},
		{"meta.consent": "0", "meta.exit_month": "2025-08"},
	})
	code, out, errOut = e.cli("import", filled, "--site", "haren", "--questionnaire", "exit")
	if code != 0 || !strings.Contains(out, "2 stored, 0 already there") {
		t.Fatalf("import of the filled exit template = exit %d, %q, %q", code, out, errOut)
	}
	if got := e.sql("SELECT count() FROM (SELECT DISTINCT submission_id FROM submissions WHERE questionnaire = 'exit')"); got != "3" {
		t.Errorf("exit records stored = %s, want 3", got)
	}

	code, out, _ = e.cli("questionnaire", "list")
	if code != 0 || !strings.Contains(out, "exit") || !strings.Contains(out, file) || !strings.Contains(out, "Release questionnaire") || !strings.Contains(out, "built-in") {
		t.Errorf("questionnaire list = exit %d\n%s", code, out)
	}

	// Changed while its version holds data: refused, at serve and every command.
	changed := strings.Replace(exitDefinition, `"Where?"`, `"Where will you go?"`, 1)
	if err := os.WriteFile(file, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.restart()
	want := "questionnaire exit version 1 (" + file + ") differs from the one its stored records were answered with: it cannot change any more; raise the version of the new definition to 2"
	if err == nil || err.Error() != want {
		t.Fatalf("restart with exit.json changed = %v, want %q", err, want)
	}
	if code, _, errOut := e.cli("migrate"); code != 1 || errOut != "tamtam: "+want+"\n" {
		t.Errorf("migrate with exit.json changed = exit %d, %q", code, errOut)
	}

	// The same change as version 2, beside version 1: starts, and serves both.
	if err := os.WriteFile(file, []byte(exitDefinition), 0o600); err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(changed, `"version": 1`, `"version": 2`, 1)
	if err := os.WriteFile(filepath.Join(dir, "exit.v2.json"), []byte(v2), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.restart(); err != nil {
		t.Fatalf("restart with exit version 2: %v", err)
	}
	if r := e.do(http.MethodGet, "/api/v1/questionnaires/exit", intake, "", nil); r.status != 200 || !strings.Contains(r.raw, "Where will you go?") {
		t.Errorf("GET /api/v1/questionnaires/exit = %d, want version 2", r.status)
	}
	// A version without data may still change: its fingerprint is replaced.
	if err := os.WriteFile(filepath.Join(dir, "exit.v2.json"), []byte(strings.Replace(v2, "Where will you go?", "Where to?", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.restart(); err != nil {
		t.Fatalf("restart with exit version 2 changed, no data: %v", err)
	}
}

// TestQuestionnaireCheck: questionnaire check names the file, item and field of every
// problem and exits 2; sound files get one line each and exit 0. It needs no store.
func TestQuestionnaireCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "exit.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(exitDefinition), 0o600)
	os.WriteFile(bad, []byte(strings.Replace(strings.Replace(exitDefinition, `"list": "yn", "when"`, `"list": "yesno", "when"`, 1),
		`"id": "exit",`, `"id": "exit", "figures": [],`, 1)), 0o600)
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, &out, &errOut, func(string) string { return "" })
		return code, out.String(), errOut.String()
	}
	if code, out, errOut := run("questionnaire", "check", good); code != 0 || out != good+": ok: exit version 1, 4 items\n" || errOut != "" {
		t.Errorf("questionnaire check good = exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut := run("questionnaire", "check", good, bad, filepath.Join(dir, "none.json"))
	wantOut := good + ": ok: exit version 1, 4 items\n" +
		bad + ": -: figures: unknown field \"figures\"\n" +
		bad + ": care.plan: list: unknown list \"yesno\"\n" +
		bad + ": care.place: when: condition on care.plan: unknown code \"1\"\n" +
		filepath.Join(dir, "none.json") + ": -: -: no such file or directory\n"
	if code != 2 || out != wantOut || errOut != "tamtam: questionnaire check: 4 problems in 2 of 3 files\n" {
		t.Errorf("questionnaire check good bad none = exit %d\n%s\nstderr %q\nwant:\n%s", code, out, errOut, wantOut)
	}
	os.WriteFile(bad, []byte(strings.Replace(exitDefinition, `"list": "yn", "when"`, `"list": "yesno", "when"`, 1)), 0o600)
	code, out, _ = run("questionnaire", "check", bad)
	if want := bad + ": care.plan: list: unknown list \"yesno\"\n"; code != 2 || !strings.HasPrefix(out, want) {
		t.Errorf("questionnaire check (unknown list) = exit %d, %q, want it to start %q", code, out, want)
	}
	if code, _, _ := run("questionnaire"); code != 2 {
		t.Errorf("questionnaire without subcommand = exit %d, want 2", code)
	}
	if code, _, errOut := run("questionnaire", "list", "--questionnaires", filepath.Join(dir, "missing")); code != 1 || !strings.Contains(errOut, "missing") {
		t.Errorf("questionnaire list --questionnaires missing = exit %d, %q, want exit 1", code, errOut)
	}
	if code, out, _ := run("questionnaire", "list", "--questionnaires", dir+"/none", "--data", dir); code != 1 {
		t.Errorf("questionnaire list (named dir missing) = exit %d, %s", code, out)
	}
}

// exitIndicators declares an indicator of the exit questionnaire: care planned before
// release, among those who answered.
const exitIndicators = `"families": [{"id": "X1", "title": {"fr": "Soins prévus", "nl": "Zorg gepland", "en": "Care planned"}}],
  "indicators": [{"id": "X1", "family": "X1", "sensitive": false,
    "label": {"fr": "Soins prévus avant la sortie", "nl": "Zorg gepland voor de vrijlating", "en": "Care planned before release"},
    "short": {"fr": "Soins prévus", "nl": "Zorg gepland", "en": "Care planned"},
    "numerator": {"fr": "Ceux qui ont des soins prévus.", "nl": "Wie zorg gepland heeft.", "en": "Those with care planned."},
    "denominator": {"fr": "Ceux qui ont répondu.", "nl": "Wie antwoordde.", "en": "Those who answered."},
    "valid": {"answered": "care.plan"}, "yes": {"item": "care.plan", "in": ["1"]}}],
  "items": [`

// TestQuestionnaireFileFigures: a definition dropped in the directory of an install
// (a restart, no rebuild) gets its figures in every output: its declared indicator and a
// table for each of its questions in the workbook, the HTML report, figures.csv (with
// its questionnaire) and the dashboard; --questionnaire restricts a report to it.
func TestQuestionnaireFileFigures(t *testing.T) {
	e := newTestEnv(t)
	dir := filepath.Join(e.cfg.Data, "questionnaires")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	def := strings.Replace(exitDefinition, `"items": [`, exitIndicators, 1)
	if err := os.WriteFile(filepath.Join(dir, "exit.json"), []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.restart(); err != nil {
		t.Fatalf("restart with exit.json: %v", err)
	}
	intake := e.token("intake", "haren", "lantin")
	for i := range 60 {
		site, answers := "haren", map[string]any{"meta.consent": "1", "meta.exit_month": "2025-06", "care.plan": "0"}
		if i%3 == 0 {
			site = "lantin"
		}
		if i%2 == 0 {
			answers["care.plan"], answers["care.place"] = "1", []string{"gp", "clinic"}[i%4/2]
		}
		sub := map[string]any{"submission_id": uuidN(100 + i), "questionnaire": "exit", "version": 1, "site": site, "answers": answers}
		if r := e.post("/api/v1/submissions", intake, sub); r.status != http.StatusCreated {
			t.Fatalf("POST exit submission %d = %d %s, want 201", i, r.status, r.raw)
		}
	}

	for _, only := range []string{"", "exit"} {
		out := t.TempDir()
		args := []string{"report", "--year", "2025", "--out", out, "--lang", "en"}
		if only != "" {
			args = append(args, "--questionnaire", only)
		}
		if code, stdout, stderr := e.cli(args...); code != 0 {
			t.Fatalf("%v = exit %d, %q, %q", args, code, stdout, stderr)
		}
		csvData, err := os.ReadFile(filepath.Join(out, "figures.csv"))
		if err != nil {
			t.Fatal(err)
		}
		csv := string(csvData)
		// care.plan's table would be X1's counts under another name: left out.
		for _, want := range []string{",questionnaire\n", "\nX1,total,,", "\ncare.place=gp,total,,", "\ncare.place=gp,site,haren,"} {
			if !strings.Contains(csv, want) {
				t.Errorf("%v: figures.csv has no %q:\n%.600s", args, want, csv)
			}
		}
		if strings.Contains(csv, "\ncare.plan=") || strings.Contains(csv, ",gender,") {
			t.Errorf("%v: figures.csv has care.plan's table, or a breakdown by gender exit does not ask:\n%.600s", args, csv)
		}
		for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
			if !strings.HasSuffix(line, ",exit") {
				t.Errorf("%v: figures.csv row %q is not of the exit questionnaire", args, line)
				break
			}
		}
		page, err := os.ReadFile(filepath.Join(out, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`id="answers-exit"`, `id="exit/care.place"`, `id="X1"`, "Care planned before release"} {
			if !strings.Contains(string(page), want) {
				t.Errorf("%v: report.html has no %s", args, want)
			}
		}
		x, err := excelize.OpenFile(filepath.Join(out, "figures.xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		if sheets := x.GetSheetList(); !slices.Contains(sheets, "Answers exit") || !slices.ContainsFunc(sheets, func(s string) bool { return strings.HasPrefix(s, "X1 ") }) {
			t.Errorf("%v: figures.xlsx sheets %q, want X1's and Answers exit", args, sheets)
		}
		x.Close()
	}
	if code, _, stderr := e.cli("report", "--year", "2025", "--out", t.TempDir(), "--questionnaire", "entry"); code == 0 || !strings.Contains(stderr, "no figures of questionnaire entry") {
		t.Errorf("report --questionnaire entry (no data) = exit %d, %q; want it refused", code, stderr)
	}

	w := newWebClient(t, e)
	w.signIn(e.token("coordinator"))
	p := w.get("/reports?year=2025&lang=en")
	if p.status != 200 || !strings.Contains(p.body, `id="answers-exit"`) || !strings.Contains(p.body, `id="exit/care.place"`) {
		t.Errorf("GET /reports = %d, want the exit questionnaire's tables", p.status)
	}
}

// TestQuestionnaireCheckRelations: questionnaire check refuses indicators that publish
// one count under two names, as a release would.
func TestQuestionnaireCheckRelations(t *testing.T) {
	twice := strings.Replace(exitIndicators, `}}],
  "items": [`, `}}, {"id": "X2", "family": "X1", "sensitive": false,
    "label": {"fr": "a", "nl": "a", "en": "a"}, "short": {"fr": "a", "nl": "a", "en": "a"},
    "numerator": {"fr": "a", "nl": "a", "en": "a"}, "denominator": {"fr": "a", "nl": "a", "en": "a"},
    "valid": {"item": "care.plan", "in": ["1"]}, "yes": {"item": "care.place", "in": ["gp"]}}],
  "items": [`, 1)
	file := filepath.Join(t.TempDir(), "exit.json")
	os.WriteFile(file, []byte(strings.Replace(exitDefinition, `"items": [`, twice, 1)), 0o600)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"questionnaire", "check", file}, &out, &errOut, func(string) string { return "" })
	if want := file + ": -: indicators: questionnaire exit: N of X2:"; code != 2 || !strings.HasPrefix(out.String(), want) {
		t.Errorf("questionnaire check (X2's N is X1's numerator) = exit %d, %q; want it to start %q", code, out.String(), want)
	}
}
