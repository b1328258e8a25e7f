package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// distributionRelease is the fixture's people with answers to every distribution table.
func distributionRelease(t testing.TB) (*Release, *Catalog) {
	t.Helper()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	src := newSynth(cat, synthOptions{Seed: 1, Start: fixtureCutOff.Add(-2000 * time.Hour), Distributions: true,
		Sizes: map[string]int{"haren": 320, "lantin": 200, "antwerpen": 150, "dinant": 4, "namur": 7}})
	r, err := Make(context.Background(), src, cat, nil, MakeOptions{Year: 2025, Policy: testPolicy(t),
		Sites: fixtureSites, CutOff: fixtureCutOff, Funders: [][]string{{"haren", "lantin"}}, Now: fixtureCutOff, Rand: fixedRand()})
	if err != nil {
		t.Fatalf("Make(with distributions) error: %v", err)
	}
	return r, cat
}

// TestDistributionTables: every choice and multi item outside meta and link has a
// table in the release: one row per published code, the parts of a single-choice item
// adding up to its N wherever all are published, the CSV naming them ITEM=CHOICE with
// the questionnaire in its last column, and the workbook and HTML report a section per
// questionnaire.
func TestDistributionTables(t *testing.T) {
	r, cat := distributionRelease(t)
	f, err := r.View(cat, AllGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The tables: one per item of entry and followup, a row per code.
	for _, fam := range cat.Families {
		if !fam.Distribution {
			continue
		}
		var parts []IndicatorFigures
		for _, ind := range f.Indicator {
			if ind.Family == fam.ID {
				parts = append(parts, ind)
			}
		}
		if len(parts) == 0 {
			t.Errorf("item table %s: not in the release", fam.ID)
			continue
		}
		if !fam.SingleChoice {
			continue
		}
		// The parts of one single-choice item count the same N, and add up to it.
		n, nOK := parts[0].Total().Denominator.Value()
		sum, all := 0, true
		for _, p := range parts {
			if d, ok := p.Total().Denominator.Value(); ok != nOK || d != n {
				t.Errorf("item table %s: %s has N %d, want the table's %d", fam.ID, p.ID, d, n)
			}
			v, ok := p.Total().Numerator.Value()
			all = all && ok
			sum += v
		}
		if nOK && all && sum != n {
			t.Errorf("item table %s: the answers add up to %d, N is %d", fam.ID, sum, n)
		}
	}
	// Left out: the breakdown items (their tables are the breakdowns' margins), and the
	// items whose counts a declared indicator holds or adds up (relations.go): I06 is
	// drug.main's codes, I02 is drug.lifetime_any=1.
	for _, id := range []string{"entry/demo.gender=M", "entry/demo.nationality=BE", "entry/drug.main=heroin", "entry/drug.lifetime_any=1"} {
		if _, ok := cat.Indicator(id); ok {
			t.Errorf("the catalog has %s: its counts are another table's", id)
		}
	}

	var buf bytes.Buffer
	if err := WriteCSV(&buf, f); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := recs[0][len(recs[0])-1]; got != "questionnaire" {
		t.Errorf("CSV header ends %q, want questionnaire", got)
	}
	found := false
	for _, rec := range recs[1:] {
		if rec[0] == "drug.main_route=1" && rec[1] == "total" {
			found = true
			if rec[9] != "entry" {
				t.Errorf("CSV row %v: questionnaire %q, want entry", rec, rec[9])
			}
		}
		if strings.Contains(rec[0], "/") {
			t.Errorf("CSV row %v: the indicator is ITEM=CHOICE, never the internal id", rec)
		}
	}
	if !found {
		t.Error("CSV has no row drug.main_route=1,total")
	}

	for _, lang := range []string{"fr", "en"} {
		x := openWorkbook(t, writeTestWorkbook(t, f, WorkbookOptions{Lang: lang}))
		sheets := x.GetSheetList()
		for _, q := range []string{"entry", "followup"} {
			want := excelSheetName(words.Lang(lang).T("report.dist_sheet", q))
			if !slices.Contains(sheets, want) {
				t.Errorf("%s: no sheet %q in %q", lang, want, sheets)
			}
		}
		page := writeTestHTML(t, f, lang)
		for _, id := range []string{`id="answers-entry"`, `id="answers-followup"`, `id="entry/drug.main_route"`} {
			if !strings.Contains(string(page), id) {
				t.Errorf("%s: report.html has no %s", lang, id)
			}
		}
	}
}

// TestDistributionsOnlyWithData: a questionnaire without data that year, and an item
// nobody answered, have no table; the release covers what it has.
func TestDistributionsOnlyWithData(t *testing.T) {
	r, cat := fixtureRelease(t)
	for _, pi := range r.Plan.Indicators {
		if ind, _ := cat.Indicator(pi.ID); ind.Decl.Distribution {
			t.Fatalf("release without answers to the items has the item table %s", pi.ID)
		}
	}
	f, err := r.View(cat, AllGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Only("followup").QuestionnaireIDs(); !slices.Equal(got, []string{"followup"}) {
		t.Errorf("Only(followup) has the figures of %v", got)
	}
	if len(f.Only("followup").Entrants) != 0 || len(f.Only("entry").Entrants) == 0 {
		t.Error("the entrants tables are the entry questionnaire's")
	}
}

// TestCareFraming: the care indicators are framed once, before the first of them, in
// the HTML report and the workbook: the memorandum's paragraph and their shares side by
// side by nationality group, each cell the one of the indicator's own table.
func TestCareFraming(t *testing.T) {
	f := fixtureFigures(t)
	tc, ok := f.Compare("care", DimNationalityGroup)
	if !ok || len(tc.Rows) < 8 || !slices.Contains(tc.Cols, "BE") {
		t.Fatalf("Compare(care) = %d rows, columns %v; want the care indicators, Belgians among the columns", len(tc.Rows), tc.Cols)
	}
	for _, r := range tc.Rows {
		fam, _ := f.Catalog.Family(r.Indicator.Family)
		if fam.Theme != "care" {
			t.Errorf("%s is in the care comparison, its family is not", r.Indicator.ID)
		}
		for i, c := range tc.Cols {
			if r.Missing[i] {
				continue
			}
			var own Row
			for _, b := range r.Indicator.Breakdowns {
				for _, x := range b.Rows {
					if b.Dim == DimNationalityGroup && x.Group == c {
						own = x
					}
				}
			}
			if own != r.Cells[i] {
				t.Errorf("%s, %s: the comparison shows %+v, its own table %+v", r.Indicator.ID, c, r.Cells[i], own)
			}
		}
	}
	for _, lang := range []string{"fr", "nl", "en"} {
		l := words.Lang(lang)
		page := string(writeTestHTML(t, f, lang))
		i := strings.Index(page, `id="theme-care"`)
		if i < 0 || !strings.Contains(page[i:], template.HTMLEscapeString(l.T("report.care_intro"))) || strings.Count(page, `id="theme-care"`) != 1 {
			t.Errorf("%s: report.html frames the care indicators %d times, want once with its paragraph", lang, strings.Count(page, `id="theme-care"`))
		}
		if first := strings.Index(page, `id="I17"`); i > first {
			t.Errorf("%s: the care framing comes after the first care family", lang)
		}
		x := openWorkbook(t, writeTestWorkbook(t, f, WorkbookOptions{Lang: lang}))
		sheet := excelSheetName(l.T("report.care_title"))
		intro, err := x.GetCellValue(sheet, "A2")
		if err != nil || intro != l.T("report.care_intro") {
			t.Errorf("%s: sheet %q A2 = %q, %v; want the framing paragraph", lang, sheet, intro, err)
		}
	}
}

// TestHiddenRelations: two declared indicators that count the same people under two
// names are refused (one suppressed and the other published would give it back), and a
// table whose counts another table already holds is left out.
func TestHiddenRelations(t *testing.T) {
	const exit = `{"id": "exit", "version": 1,
  "title": {"fr": "Sortie", "nl": "Vrijlating", "en": "Release"}, "description": {"fr": "", "nl": "", "en": ""},
  "families": [{"id": "X1", "title": {"fr": "Plan", "nl": "Plan", "en": "Plan"}}],
  "indicators": [%s],
  "items": [
    {"code": "meta.consent", "type": "choice", "required": true, "list": "yn", "label": {"fr": "Accord ?", "nl": "Akkoord?", "en": "Agree?"}},
    {"code": "meta.exit_month", "type": "month", "required": true, "label": {"fr": "Mois", "nl": "Maand", "en": "Month"}},
    {"code": "care.plan", "type": "choice", "list": "yn", "when": [{"item": "meta.consent", "in": ["1"]}], "label": {"fr": "Plan ?", "nl": "Plan?", "en": "Plan?"}},
    {"code": "care.help", "type": "multi", "required": true, "when": [{"item": "care.plan", "in": ["1"]}], "label": {"fr": "Aide ?", "nl": "Hulp?", "en": "Help?"},
     "choices": [{"code": "gp", "label": {"fr": "Médecin", "nl": "Huisarts", "en": "GP"}}, {"code": "cpas", "label": {"fr": "CPAS", "nl": "OCMW", "en": "CPAS"}}]},
    {"code": "care.where", "type": "choice", "label": {"fr": "Où ?", "nl": "Waar?", "en": "Where?"},
     "choices": [{"code": "home", "label": {"fr": "Chez soi", "nl": "Thuis", "en": "Home"}}, {"code": "shelter", "label": {"fr": "Foyer", "nl": "Opvang", "en": "Shelter"}}]}
  ]}`
	indicator := func(id, valid, yes string) string {
		return fmt.Sprintf(`{"id": %q, "family": "X1", "sensitive": false, "label": {"fr": "a", "nl": "a", "en": "a"}, "short": {"fr": "a", "nl": "a", "en": "a"},
		  "numerator": {"fr": "a", "nl": "a", "en": "a"}, "denominator": {"fr": "a", "nl": "a", "en": "a"}, "valid": %s, "yes": %s}`, id, valid, yes)
	}
	catalogOf := func(def string) (*Catalog, error) {
		q, err := collector.BuiltinCatalog()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "exit.json"), []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := q.AddDir(dir, true); err != nil {
			t.Fatal(err)
		}
		return NewCatalog(q)
	}
	// X2's N is X1's yes: those who said yes to care.plan.
	twice := fmt.Sprintf(exit, indicator("X1", `{"answered": "care.plan"}`, `{"item": "care.plan", "in": ["1"]}`)+", "+
		indicator("X2", `{"item": "care.plan", "in": ["1"]}`, `{"item": "care.help", "chose": ["gp"]}`))
	if _, err := catalogOf(twice); err == nil || !strings.Contains(err.Error(), "questionnaire exit: N of X2") {
		t.Errorf("NewCatalog(X2's N is X1's numerator) = %v, want it refused naming N of X2", err)
	}
	cat, err := catalogOf(fmt.Sprintf(exit, indicator("X1", `{"answered": "care.plan"}`, `{"item": "care.plan", "in": ["1"]}`)))
	if err != nil {
		t.Fatal(err)
	}
	_, plan := cat.Family("exit/care.plan")   // X1 is care.plan=1
	_, help := cat.Family("exit/care.help")   // required when care.plan=1: its N is X1's numerator
	_, where := cat.Family("exit/care.where") // related to nothing
	if plan || help || !where {
		t.Errorf("item tables care.plan %v, care.help %v, care.where %v; want only care.where", plan, help, where)
	}
}

// TestThemeWords: every theme a family may have is framed in every language.
func TestThemeWords(t *testing.T) {
	for _, th := range collector.Themes {
		w, ok := themeWords[th]
		if !ok {
			t.Errorf("theme %s has no words", th)
		}
		for _, k := range []string{w.Title, w.Intro, w.ByNationality} {
			if !words.Has(k) {
				t.Errorf("theme %s: %q is not in the catalogue", th, k)
			}
		}
	}
}

// TestUnprotectableItemTableDropped: a release leaves out an item's table that cannot be
// protected, and never a declared indicator.
func TestUnprotectableItemTableDropped(t *testing.T) {
	r, cat := distributionRelease(t)
	plan := r.Plan
	key := popKey("entry/drug.main_route", AllGroup, cut{DimAgeBand, "55+"})
	if fam := plan.distributionOf(cat, &disclosure.UnprotectableError{Cell: key}); fam != "entry/drug.main_route" {
		t.Fatalf("distributionOf(main route's N) = %q", fam)
	}
	plan.drop("entry/drug.main_route")
	if slices.ContainsFunc(plan.Indicators, func(x PlanIndicator) bool { return x.Family == "entry/drug.main_route" }) ||
		slices.ContainsFunc(plan.Choices, func(c []string) bool { return strings.HasPrefix(c[0], "entry/drug.main_route=") }) {
		t.Error("the dropped table is still in the plan")
	}
	if _, err := plan.layout(); err != nil {
		t.Errorf("layout without the table: %v", err)
	}
	if fam := plan.distributionOf(cat, &disclosure.UnprotectableError{Cell: popKey("I06.heroin", AllGroup, cut{})}); fam != "" {
		t.Errorf("distributionOf(a declared indicator's N) = %q, want none", fam)
	}
}

// TestSmallSiteStaysPooled: a site with few interviewed entrants is pooled (R10) however
// many answers to another questionnaire it has: shown on its own, its entrants' tables
// would show them.
func TestSmallSiteStaysPooled(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	d := newSynth(cat, synthOptions{Seed: 1, Start: fixtureCutOff.Add(-2000 * time.Hour),
		Sizes: map[string]int{"haren": 320, "lantin": 200, "dinant": 6}})
	for i := range 30 {
		d.people = append(d.people, synthPerson{site: "dinant", received: cutOffDay(fixtureCutOff.Add(-time.Duration(i) * time.Hour)),
			cells: func() (cs []IndicatorCell) {
				for _, ind := range cat.Indicators {
					if ind.PopulationID() == "needs_wish_answered" {
						cs = append(cs, IndicatorCell{Indicator: ind.ID, Site: "dinant", Gender: "F", AgeBand: "25-34", Den: 1, Num: i % 2})
					}
				}
				return cs
			}()})
	}
	r, err := Make(context.Background(), d, cat, nil, MakeOptions{Year: 2025, Policy: testPolicy(t),
		Sites: fixtureSites, CutOff: fixtureCutOff, Now: fixtureCutOff, Rand: fixedRand()})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.Plan.Pooled, "dinant") {
		t.Errorf("pooled sites %v: dinant, with 6 entrants and 30 needs answers, is shown on its own", r.Plan.Pooled)
	}
}
