package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"html/template"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector/words"
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
	if _, ok := f.Find("entry/demo.nationality=MAGHREB"); !ok {
		t.Error("no row for the Maghreb among the nationalities (published groups)")
	}
	if _, ok := f.Find("entry/demo.nationality=UNKNOWN"); ok {
		t.Error("the unknown nationality has a row: it counts as a missing answer")
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
		if rec[0] == "drug.main=heroin" && rec[1] == "total" {
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
		t.Error("CSV has no row drug.main=heroin,total")
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
		for _, id := range []string{`id="answers-entry"`, `id="answers-followup"`, `id="entry/drug.main"`} {
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
