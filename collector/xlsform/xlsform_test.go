package xlsform

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// form builds an XLSForm workbook from its three sheets, each a header row then rows.
func form(t testing.TB, survey, choices, settings [][]string) *excelize.File {
	t.Helper()
	f := excelize.NewFile()
	t.Cleanup(func() { f.Close() })
	put := func(name string, rows [][]string) {
		if rows == nil {
			return
		}
		if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			vals := make([]any, len(row))
			for j, v := range row {
				vals[j] = v
			}
			if err := f.SetSheetRow(name, cell, &vals); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("survey", survey)
	put("choices", choices)
	put("settings", settings)
	if err := f.DeleteSheet("Sheet1"); err != nil {
		t.Fatal(err)
	}
	return f
}

var surveyHeader = []string{"type", "name", "label::French (fr)", "label::Dutch (nl)", "label::English (en)", "label", "hint", "required", "relevant", "constraint", "constraint_message"}

// exitSurvey is the XLSForm of a small release questionnaire: consent, the month of release,
// a select_one, a select_multiple shown on an answer, an integer with a range, two groups,
// three languages (the hint and the clinic label in one plain column for all).
var exitSurvey = [][]string{
	surveyHeader,
	{"begin group", "meta", "", "", "", "Meta"},
	{"select_one yn", "consent", "Acceptez-vous ?", "Gaat u akkoord?", "Do you agree?", "", "", "yes"},
	{"date", "exit_month", "Mois de sortie", "Maand van vrijlating", "Month of release", "", "Month and year only.", "true", "", ". <= today()"},
	{"end group"},
	{"begin group", "care"},
	{"select_one yn", "plan", "Soins prévus ?", "Zorg gepland?", "Care planned?", "", "", "", "${consent} = '1'"},
	{"select_multiple place", "place", "Où ?", "Waar?", "Where?", "", "", "", "${consent} = '1' and selected(${plan}, '1')"},
	{"integer", "visits", "Combien de visites ?", "Hoeveel bezoeken?", "How many visits?", "", "", "1", "not(${plan} = '0')", ". >= 0 and . <= 120", "0 to 120"},
	{"end group"},
}

var exitChoices = [][]string{
	{"list_name", "name", "label::French (fr)", "label::Dutch (nl)", "label::English (en)", "label"},
	{"yn", "1", "Oui", "Ja", "Yes"},
	{"yn", "0", "Non", "Nee", "No"},
	{"place", "gp", "Médecin", "Huisarts", "GP"},
	{"place", "clinic", "", "", "", "Clinique"},
}

var exitSettings = [][]string{
	{"form_title::French (fr)", "form_title::Dutch (nl)", "form_title::English (en)", "form_id"},
	{"Questionnaire de sortie", "Vrijlatingsvragenlijst", "Release questionnaire", "exit"},
}

func builtin(t testing.TB) *collector.Catalog {
	t.Helper()
	cat, err := collector.BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestConvertExit converts the exit form, compares it with the golden file and checks it
// passes the definition checker.
func TestConvertExit(t *testing.T) {
	cat := builtin(t)
	data, probs := Convert(form(t, exitSurvey, exitChoices, exitSettings), Options{ID: "exit", Version: 1, Catalog: cat})
	if len(probs) > 0 {
		t.Fatalf("Convert problems: %v", probs)
	}
	golden := filepath.Join("testdata", "exit.v1.json.golden")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("Convert =\n%s\nwant (%s)\n%s", data, golden, want)
	}
	d, cprobs := cat.CheckFile("exit.v1.json", data)
	if len(cprobs) > 0 {
		t.Fatalf("CheckFile: %v", cprobs)
	}
	if d.PeriodItem() != "meta.exit_month" || len(d.Items) != 5 {
		t.Errorf("period %q, %d items; want meta.exit_month, 5", d.PeriodItem(), len(d.Items))
	}
	visits := d.Item("care.visits")
	if len(visits.When) != 1 || strings.Join(visits.When[0].In, ",") != "1,8,9" {
		t.Errorf("care.visits when = %+v, want care.plan in 1,8,9", visits.When)
	}
}

// with returns rows with extra rows inserted before the last one.
func with(rows [][]string, extra ...[]string) [][]string {
	out := append([][]string{}, rows[:len(rows)-1]...)
	out = append(out, extra...)
	return append(out, rows[len(rows)-1])
}

// TestRefusals: each form construct a definition cannot express is reported with its row,
// all of them together.
func TestRefusals(t *testing.T) {
	cat := builtin(t)
	cases := []struct {
		name   string
		survey [][]string
		want   []string
	}{
		{"text", with(exitSurvey, []string{"text", "story", "", "", "", "Tell us"}), []string{"survey:10: text (free text) is never collected"}},
		{"calculate", with(exitSurvey, []string{"calculate", "sum", "", "", "", "", "", "", "", ""}), []string{"survey:10: calculate is not supported"}},
		{"repeat", with(exitSurvey, []string{"begin repeat", "kids"}), []string{"survey:10: begin repeat is not supported"}},
		{"relevant", with(exitSurvey, []string{"select_one yn", "more", "a", "b", "c", "", "", "", "${plan} = '1' or ${consent} = '1'"}),
			[]string{"survey:10: relevant \"${plan} = '1' or ${consent} = '1'\": or joins conditions on one question only"}},
		{"relevant on multi", with(exitSurvey, []string{"select_one yn", "more", "a", "b", "c", "", "", "", "selected(${place}, 'gp')"}),
			[]string{"survey:10: relevant \"selected(${place}, 'gp')\": ${place} is a select_multiple"}},
		{"constraint", with(exitSurvey, []string{"integer", "n", "a", "b", "c", "", "", "", "", ". >= 0 and . <= ${visits}"}),
			[]string{"survey:10: constraint \". >= 0 and . <= ${visits}\": only a range like"}},
		{"missing list", with(exitSurvey, []string{"select_one colours", "colour", "a", "b", "c"}),
			[]string{"survey:10: choice list colours is not in the choices sheet"}},
		{"several", with(exitSurvey, []string{"text", "story", "", "", "", "Tell us"}, []string{"calculate", "sum"}, []string{"begin repeat", "kids"}),
			[]string{"survey:10: text", "survey:11: calculate", "survey:12: begin repeat"}},
		{"no consent nor date", [][]string{surveyHeader, {"begin group", "care"}, {"select_one yn", "plan", "a", "b", "c"}, {"end group"}},
			[]string{"survey: the form has no consent question: add", "survey: the form has no date question: add"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, probs := Convert(form(t, tc.survey, exitChoices, exitSettings), Options{ID: "exit", Version: 1, Catalog: cat})
			if data != nil {
				t.Fatalf("Convert returned a file, want problems %v", tc.want)
			}
			var got []string
			for _, p := range probs {
				got = append(got, p.String())
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems:\n%s\nwant one starting %q", all, w)
				}
			}
			if len(got) < len(tc.want) {
				t.Errorf("%d problems, want %d: %s", len(got), len(tc.want), all)
			}
		})
	}
}

// TestRelevantSubset: the relevant expressions kept become the conditions they mean.
func TestRelevantSubset(t *testing.T) {
	cases := map[string]string{
		"${plan} = '1' or ${plan} = '0'":                 "care.plan in 1,0",
		"(${plan} = '1') and ${consent} = \"1\"":         "care.plan in 1; meta.consent in 1",
		"${plan} != '1'":                                 "care.plan in 0,8,9",
		"not(${plan} = '1' or ${plan} = '8')":            "care.plan in 0,9",
		"selected(${plan}, '0') and not(${consent} = 0)": "care.plan in 0; meta.consent in 1",
	}
	for expr, want := range cases {
		survey := with(exitSurvey, []string{"select_one yn", "more", "a", "b", "c", "", "", "", expr})
		data, probs := Convert(form(t, survey, exitChoices, exitSettings), Options{ID: "exit", Version: 1, Catalog: builtin(t)})
		if len(probs) > 0 {
			t.Errorf("relevant %q: %v", expr, probs)
			continue
		}
		d, _ := builtin(t).CheckFile("exit.v1.json", data)
		var got []string
		for _, c := range d.Item("care.more").When {
			got = append(got, c.Item+" in "+strings.Join(c.In, ","))
		}
		if strings.Join(got, "; ") != want {
			t.Errorf("relevant %q = %q, want %q", expr, strings.Join(got, "; "), want)
		}
	}
}

// TestFormShape: nested groups, a question outside any group, a language tamtam does not
// serve and a missing title are each reported.
func TestFormShape(t *testing.T) {
	survey := append([][]string{}, exitSurvey...)
	survey[0] = append(append([]string{}, surveyHeader...), "label::Arabic (ar)")
	survey = with(survey,
		[]string{"begin group", "inner"}, []string{"end group"},
		[]string{"select_one yn", "loose", "a", "b", "c", "", "", "", "", "", "", "نعم"})
	survey = append(survey, []string{"select_one yn", "outside", "a", "b", "c"})
	_, probs := Convert(form(t, survey, exitChoices, [][]string{{"form_id"}, {"exit"}}), Options{ID: "exit", Version: 1})
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{
		"settings:2: form_title is needed",
		"survey:10: group inner is inside group care",
		"survey:12: column label::Arabic (ar): only French (fr), Dutch (nl) and English (en)",
		"survey:14: question outside is outside any group",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("problems:\n%s\nwant %q", all, w)
		}
	}
}
