package xlsform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/xuri/excelize/v2"

	"github.com/tamtam-ngo/tamtam/collector"
)

// needsSurvey is the shipped needs questionnaire as a Kobo user writes it: the rows of the
// survey sheet without their texts (type, name, required, relevant, constraint), one group
// per section, a choice list shared by two questions. The labels and hints are filled in
// from the shipped definition by needsXLSForm, so that a change of wording there is a
// -update away, while every structural choice here is written by hand.
var needsSurvey = [][5]string{
	{"begin group", "meta"},
	{"select_one yn", "consent", "yes"},
	{"date", "survey_month", "yes", "", ". <= today()"},
	{"select_one time", "time_since_entry", "", "${consent} = '1'"},
	{"end group"},
	{"begin group", "demo"},
	{"select_one gender", "gender", "yes", "${consent} = '1'"},
	{"integer", "age", "yes", "${consent} = '1'", ". >= 18 and . <= 99"},
	{"select_one legal_status", "legal_status", "", "${consent} = '1'"},
	{"end group"},
	{"begin group", "wish"},
	{"select_one yn", "any", "", "${consent} = '1'"},
	{"select_multiple activities", "activities", "", "${any} = '1'"},
	{"select_one activities", "priority", "", "${any} = '1'"},
	{"select_one format", "format", "", "${any} = '1'"},
	{"select_multiple languages", "languages", "", "${consent} = '1'"},
	{"end group"},
	{"begin group", "access"},
	{"select_one yn", "took_part", "", "${consent} = '1'"},
	{"select_multiple barriers", "barriers", "", "${consent} = '1'"},
	{"select_multiple info", "info", "", "${consent} = '1'"},
	{"end group"},
}

// needsChoices are the choice lists of the form, by hand, each with the question whose
// labels it takes.
var needsChoices = []struct {
	list, from string
	codes      []string
}{
	{"yn", "wish.any", []string{"1", "0"}},
	{"time", "meta.time_since_entry", []string{"lt1m", "1-3m", "3-6m", "6-12m", "gt12m"}},
	{"gender", "demo.gender", []string{"M", "F", "X"}},
	{"legal_status", "demo.legal_status", []string{"remand", "sentenced", "internee"}},
	{"activities", "wish.activities", []string{"health", "language", "literacy", "training", "culture", "sport", "psychosocial", "family", "release", "rights"}},
	{"format", "wish.format", []string{"group", "individual", "either"}},
	{"languages", "wish.languages", []string{"fr", "nl", "en", "ar", "ber", "es", "pt", "ro", "pl", "sq", "tr", "ru", "other"}},
	{"barriers", "access.barriers", []string{"no_info", "language", "waiting_list", "schedule", "not_fetched", "not_allowed", "cancelled",
		"health", "fear", "not_interested", "short_stay"}},
	{"info", "access.info", []string{"leaflet", "poster", "visit", "peers", "staff", "tv"}},
}

var kobo = []string{"French (fr)", "Dutch (nl)", "English (en)"}

// texts returns the three language columns of t (empty for nil).
func texts(t *collector.Text) []string {
	if t == nil {
		return []string{"", "", ""}
	}
	return []string{t.FR, t.NL, t.EN}
}

// needsXLSForm builds the XLSForm of the needs questionnaire from needsSurvey and
// needsChoices, with the texts of the shipped definition d.
func needsXLSForm(t testing.TB, d *collector.Definition) *excelize.File {
	t.Helper()
	cols := func(names ...string) []string {
		var out []string
		for _, n := range names {
			for _, l := range kobo {
				out = append(out, n+"::"+l)
			}
		}
		return out
	}
	survey := [][]string{append(append([]string{"type", "name"}, cols("label", "hint")...), "required", "relevant", "constraint", "constraint_message::English (en)")}
	group := ""
	for _, r := range needsSurvey {
		row := append([]string{r[0], r[1]}, make([]string, 6)...)
		switch r[0] {
		case "begin group":
			group = r[1]
		case "end group":
		default:
			it := d.Item(group + "." + r[1])
			if it == nil {
				t.Fatalf("needs has no item %s.%s", group, r[1])
			}
			row = append(append([]string{r[0], r[1]}, texts(&it.Label)...), texts(it.Hint)...)
		}
		row = append(row, r[2], r[3], r[4])
		if r[4] != "" {
			row = append(row, "Out of range")
		}
		survey = append(survey, row)
	}
	choices := [][]string{append([]string{"list_name", "name"}, cols("label", "hint")...)}
	for _, l := range needsChoices {
		it := d.Item(l.from)
		for _, code := range l.codes {
			ch, ok := it.Choice(code)
			if !ok {
				t.Fatalf("%s has no choice %s", l.from, code)
			}
			choices = append(choices, append(append([]string{l.list, code}, texts(&ch.Label)...), texts(ch.Hint)...))
		}
	}
	settings := [][]string{
		append(cols("form_title", "description"), "form_id", "version", "default_language"),
		append(append(texts(&d.Title), texts(&d.Description)...), "needs", "1", "French (fr)"),
	}
	return form(t, survey, choices, settings)
}

// TestConvertNeeds converts testdata/needs.xlsx, the shipped needs questionnaire written
// as an XLSForm (go test ./collector/xlsform -run TestConvertNeeds -update rewrites it
// from needsXLSForm), and checks the result is the shipped definition: same items, order,
// types, sections, required, conditions, choices (8 and 9 added alike), labels and hints,
// title and description (demo.age stored as an age band, as the converter always stores
// it). One thing an XLSForm cannot say is added before the comparison, and checked to be
// the only one: the survey month is not before 2015-01.
func TestConvertNeeds(t *testing.T) {
	cat := builtin(t)
	shipped, ok := cat.Latest("needs")
	if !ok {
		t.Fatal("no built-in needs questionnaire")
	}
	path := filepath.Join("testdata", "needs.xlsx")
	if *update {
		buf, err := needsXLSForm(t, shipped).WriteToBuffer()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, probs, err := ConvertFile(path, Options{ID: "needs", Version: 1})
	if err != nil || len(probs) > 0 {
		t.Fatalf("ConvertFile(%s) = %v, %v (go test -run TestConvertNeeds -update writes it)", path, probs, err)
	}
	// The committed form is what needsXLSForm writes today.
	if fresh, probs := Convert(needsXLSForm(t, shipped), Options{ID: "needs", Version: 1}); len(probs) > 0 || !bytes.Equal(fresh, data) {
		t.Errorf("%s converts otherwise than needsXLSForm's form (%v): go test -run TestConvertNeeds -update rewrites it", path, probs)
	}
	// The form is sound on its own: under a new id it passes the definition checker.
	if _, probs := Convert(needsXLSForm(t, shipped), Options{ID: "kobo_needs", Version: 1, Catalog: cat}); len(probs) > 0 {
		t.Errorf("Convert(needs form as kobo_needs) = %v, want no problem", probs)
	}

	var file map[string]any
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, x := range file["items"].([]any) {
		it := x.(map[string]any)
		switch it["code"] {
		case shipped.PeriodItem():
			if it["min"] != nil {
				t.Errorf("the converted %s has min %v: the converter now says it, drop it from this test", it["code"], it["min"])
			}
			it["min"] = "2015-01"
		}
	}
	patched, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := os.ReadFile(filepath.Join("..", "questionnaires", "lists.json"))
	if err != nil {
		t.Fatal(err)
	}
	alone, err := collector.LoadCatalog(fstest.MapFS{"lists.json": {Data: lists}, "needs.v1.json": {Data: patched}})
	if err != nil {
		t.Fatalf("LoadCatalog(converted needs) error: %v", err)
	}
	got, _ := alone.Latest("needs")
	if got.Title != shipped.Title || got.Description != shipped.Description {
		t.Errorf("converted title, description = %v, %v; want %v, %v", got.Title, got.Description, shipped.Title, shipped.Description)
	}
	if len(got.Items) != len(shipped.Items) {
		t.Errorf("converted needs has %d items, want %d", len(got.Items), len(shipped.Items))
	}
	for i := range min(len(got.Items), len(shipped.Items)) {
		g, _ := json.Marshal(got.Items[i])
		w, _ := json.Marshal(shipped.Items[i])
		if !bytes.Equal(g, w) {
			t.Errorf("converted item %d =\n%s\nwant\n%s", i, g, w)
		}
	}
	if got.Fingerprint() != shipped.Fingerprint() {
		t.Error("the converted needs questionnaire has another fingerprint than the shipped one")
	}
	// And so the built-in catalogue takes it as the same version, not a redefinition.
	if _, probs := cat.CheckFile("needs.v1.json", patched); len(probs) > 0 {
		t.Errorf("CheckFile(converted needs) = %v, want no problem", probs)
	}
}
