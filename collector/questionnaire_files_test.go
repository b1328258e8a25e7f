package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// smallDefinition is a sound definition file: consent, the month that dates the record
// and two choice items.
const smallDefinition = `{
  "id": "exit", "version": 1,
  "title": {"fr": "Sortie", "nl": "Vrijlating", "en": "Release"},
  "description": {"fr": "", "nl": "", "en": ""},
  "items": [
    {"code": "meta.consent", "type": "choice", "required": true, "list": "yn",
     "label": {"fr": "Accord ?", "nl": "Akkoord?", "en": "Agree?"}},
    {"code": "meta.exit_month", "type": "month", "required": true, "min": "2015-01", "not_future": true,
     "label": {"fr": "Mois", "nl": "Maand", "en": "Month"}},
    {"code": "care.plan", "type": "choice", "list": "yn", "when": [{"item": "meta.consent", "in": ["1"]}],
     "label": {"fr": "Plan ?", "nl": "Plan?", "en": "Plan?"}},
    {"code": "care.place", "type": "choice", "when": [{"item": "care.plan", "in": ["1"]}],
     "label": {"fr": "Où ?", "nl": "Waar?", "en": "Where?"},
     "choices": [{"code": "gp", "label": {"fr": "Médecin", "nl": "Huisarts", "en": "GP"}},
                 {"code": "clinic", "label": {"fr": "Clinique", "nl": "Kliniek", "en": "Clinic"}}]}
  ]
}`

// exitFamily and exitIndicator declare an indicator of smallDefinition.
const exitFamily = `{"id": "X1", "title": {"fr": "Plan", "nl": "Plan", "en": "Plan"}}`

func exitIndicator(family, yes string) string {
	return `{"id": "X1", "family": "` + family + `", "sensitive": false,
	  "label": {"fr": "Plan", "nl": "Plan", "en": "Plan"}, "short": {"fr": "Plan", "nl": "Plan", "en": "Plan"},
	  "numerator": {"fr": "Oui", "nl": "Ja", "en": "Yes"}, "denominator": {"fr": "Tous", "nl": "Allen", "en": "All"},
	  "valid": {"answered": "care.plan"}, "yes": ` + yes + `}`
}

func builtin(t *testing.T) *Catalog {
	t.Helper()
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckFileSound(t *testing.T) {
	d, probs := builtin(t).CheckFile("exit.json", []byte(smallDefinition))
	if len(probs) > 0 {
		t.Fatalf("CheckFile(small) problems %v", probs)
	}
	if d.PeriodItem() != "meta.exit_month" || d.Source() != "exit.json" || len(d.Item("care.plan").Choices) != 4 {
		t.Errorf("CheckFile(small) = period %s, source %s, care.plan choices %v", d.PeriodItem(), d.Source(), d.Item("care.plan").Choices)
	}
	if len(d.Item(ConsentItem).Choices) != 2 {
		t.Errorf("consent choices %v, want 1 and 0 only", d.Item(ConsentItem).Choices)
	}
}

// TestCheckFileRules: every rule of a definition file, each problem naming its item and
// field, and every problem of a file reported at once.
func TestCheckFileRules(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     []string // "ITEM: FIELD: part of the message", each must be reported
	}{
		{"indicator of an unknown family", `"id": "exit",`, `"id": "exit", "indicators": [` + exitIndicator("X9", `{"item": "care.plan", "in": ["1"]}`) + `],`,
			[]string{`X1: family: unknown family "X9"`}},
		{"indicator on an unknown item", `"id": "exit",`, `"id": "exit", "families": [` + exitFamily + `], "indicators": [` + exitIndicator("X1", `{"item": "care.where", "in": ["1"]}`) + `],`,
			[]string{"X1: yes: care.where is not an item of exit"}},
		{"indicator on an unknown code", `"id": "exit",`, `"id": "exit", "families": [` + exitFamily + `], "indicators": [` + exitIndicator("X1", `{"item": "care.place", "in": ["hospital"]}`) + `],`,
			[]string{`X1: yes: care.place has no stored code "hospital"`}},
		{"chose on a choice item", `"id": "exit",`, `"id": "exit", "families": [` + exitFamily + `], "indicators": [` + exitIndicator("X1", `{"item": "care.place", "chose": ["gp"]}`) + `],`,
			[]string{"X1: yes: chose: care.place is not a multi item"}},
		{"two forms in one condition", `"id": "exit",`, `"id": "exit", "families": [` + exitFamily + `], "indicators": [` + exitIndicator("X1", `{"answered": "care.plan", "not": {"answered": "care.place"}}`) + `],`,
			[]string{"X1: yes: a condition has exactly one of"}},
		{"unknown key in a condition", `"id": "exit",`, `"id": "exit", "families": [` + exitFamily + `], "indicators": [` + exitIndicator("X1", `{"item": "care.plan", "equals": "1"}`) + `],`,
			[]string{`unknown field "equals"`}},
		{"link to an unknown questionnaire", `"id": "exit",`, `"id": "exit", "families": [` + exitFamily + `], "indicators": [` +
			strings.Replace(exitIndicator("X1", `{"all": []}`), `"valid": {"answered": "care.plan"}, "yes": {"all": []}`, `"link": {"questionnaire": "after", "valid": {"all": []}, "yes": {"all": []}}`, 1) + `],`,
			[]string{`links to unknown questionnaire "after"`}},
		{"unknown top field", `"id": "exit",`, `"id": "exit", "author": "x",`, []string{`-: author: unknown field "author"`}},
		{"unknown item fields, all", `"code": "care.plan",`, `"code": "care.plan", "colour": "red", "size": 1,`,
			[]string{`care.plan: colour: unknown field "colour"`, `care.plan: size: unknown field "size"`}},
		{"bad id", `"id": "exit"`, `"id": "Exit!"`, []string{"-: id: id must be"}},
		{"version 0", `"version": 1`, `"version": 0`, []string{"-: version: version must be"}},
		{"title", `"title": {"fr": "Sortie", "nl": "Vrijlating", "en": "Release"}`, `"title": {"fr": "Sortie"}`, []string{"-: title: title needs fr, nl and en"}},
		{"no consent", `"code": "meta.consent"`, `"code": "meta.agree"`, []string{"meta.consent: -: a required choice item meta.consent"}},
		{"consent not required", `"code": "meta.consent", "type": "choice", "required": true`, `"code": "meta.consent", "type": "choice", "required": false`,
			[]string{"meta.consent: -: a required choice item meta.consent"}},
		{"consent with other codes", `"code": "meta.consent", "type": "choice", "required": true, "list": "yn"`,
			`"code": "meta.consent", "type": "choice", "required": true, "list": "yn", "missing_codes": true`,
			[]string{`meta.consent: choices: consent has exactly the codes "1" (yes) and "0" (refused)`}},
		{"no month", `"type": "month", "required": true, "min": "2015-01", "not_future": true`, `"type": "integer", "required": true, "min": 2015, "max": 2030`,
			[]string{"-: items: a required month item that always applies is needed"}},
		{"first month optional", `"type": "month", "required": true`, `"type": "month", "required": false`,
			[]string{"meta.exit_month: required: the first month item dates records"}},
		{"every problem of every item", `"list": "yn", "when": [{"item": "meta.consent", "in": ["1"]}]`,
			`"list": "yesno", "when": [{"item": "meta.agree", "in": ["1"]}]`,
			[]string{`care.plan: list: unknown list "yesno"`, "care.plan: when: condition on meta.agree, which is not an earlier item"}},
		{"bad choice", `{"code": "gp",`, `{"code": "g p",`, []string{`care.place: choices: invalid choice code "g p"`}},
		{"bad item code", `"code": "care.place"`, `"code": "Place"`, []string{"Place: code: invalid item code"}},
		{"unknown type", `"code": "care.place", "type": "choice"`, `"code": "care.place", "type": "text"`, []string{`care.place: type: unknown type "text"`}},
		{"country kept", `"code": "care.place", "type": "choice",`, `"code": "care.place", "type": "choice", "store": "age_band",`,
			[]string{"care.place: store: age_band applies to integer items"}},
		{"not JSON", `{`, `[`, []string{"-: -: invalid character"}},
		{"exact age", `{"code": "care.plan",`, `{"code": "demo.age", "type": "integer", "min": 18, "max": 99,
     "label": {"fr": "Âge", "nl": "Leeftijd", "en": "Age"}},
    {"code": "care.plan",`, []string{"demo.age: store: demo.age is the age of the breakdowns: an integer item stored as age_band"}},
		{"asked by gender", `{"code": "care.plan", "type": "choice", "list": "yn", "when": [{"item": "meta.consent", "in": ["1"]}],`,
			`{"code": "demo.gender", "type": "choice", "label": {"fr": "Genre", "nl": "Gender", "en": "Gender"},
     "choices": [{"code": "M", "label": {"fr": "H", "nl": "M", "en": "M"}}, {"code": "F", "label": {"fr": "F", "nl": "V", "en": "F"}}]},
    {"code": "care.plan", "type": "choice", "list": "yn", "when": [{"item": "demo.gender", "in": ["F"]}],`,
			[]string{"care.plan: when: condition on demo.gender: a question may not depend on an item stored coarsened or on a breakdown item"}},
		{"countries as codes", `[{"code": "gp", "label": {"fr": "Médecin", "nl": "Huisarts", "en": "GP"}},`,
			`[{"code": "FR", "label": {"fr": "France", "nl": "Frankrijk", "en": "France"}}, {"code": "MA", "label": {"fr": "Maroc", "nl": "Marokko", "en": "Morocco"}},
			  {"code": "BE", "label": {"fr": "Belgique", "nl": "België", "en": "Belgium"}},`,
			[]string{"care.place: choices: the codes are countries"}},
		{"ages as codes", `[{"code": "gp", "label": {"fr": "Médecin", "nl": "Huisarts", "en": "GP"}},`, `[` + func() string {
			var b strings.Builder
			for a := 18; a < 30; a++ {
				fmt.Fprintf(&b, `{"code": "%d", "label": {"fr": "%d", "nl": "%d", "en": "%d"}}, `, a, a, a, a)
			}
			return b.String()
		}(), []string{"care.place: choices: the codes look like exact ages"}},
		{"redefines a built-in", `"id": "exit"`, `"id": "entry"`, []string{"-: version: entry version 1 is already defined by the built-in definition with another content"}},
	}
	c := builtin(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(smallDefinition, tt.old) {
				t.Fatalf("fixture lacks %q", tt.old)
			}
			data := strings.Replace(smallDefinition, tt.old, tt.new, 1)
			d, probs := c.CheckFile("exit.json", []byte(data))
			if d != nil || len(probs) == 0 {
				t.Fatalf("CheckFile(%s) = %v, no problem", tt.name, d)
			}
			var got []string
			for _, p := range probs {
				got = append(got, p.String())
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, w) || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("CheckFile(%s) problems %q, want one like %q", tt.name, got, w)
				}
			}
		})
	}
}

func TestCheckFileTooLarge(t *testing.T) {
	data := smallDefinition + strings.Repeat(" ", MaxDefinitionBytes)
	if _, probs := builtin(t).CheckFile("big.json", []byte(data)); len(probs) != 1 || !strings.Contains(probs[0].Message, "larger than") {
		t.Errorf("CheckFile(over 1 MiB) = %v, want one problem saying it is too large", probs)
	}
}

// TestCheckFileServedShape: a file may be what GET /api/v1/questionnaires/{id} serves:
// the built-in entry questionnaire, served, is the same definition.
func TestCheckFileServedShape(t *testing.T) {
	c := builtin(t)
	for _, id := range c.IDs() {
		d, _ := c.Latest(id)
		data, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		got, probs := c.CheckFile(id+".json", data)
		if len(probs) > 0 {
			t.Fatalf("CheckFile(served %s) problems %v", id, probs)
		}
		if got.Fingerprint() != d.Fingerprint() {
			t.Errorf("served %s read back differs from the built-in definition", id)
		}
	}
}

func TestAddDir(t *testing.T) {
	dir := t.TempDir()
	c := builtin(t)
	if err := c.AddDir(filepath.Join(dir, "none"), false); err != nil {
		t.Errorf("AddDir(missing, optional) = %v", err)
	}
	if err := c.AddDir(filepath.Join(dir, "none"), true); err == nil {
		t.Errorf("AddDir(missing, named) = nil, want an error")
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("exit.json", smallDefinition)
	write("exit-2.json", strings.Replace(smallDefinition, `"version": 1`, `"version": 2`, 1))
	write("notes.txt", "not a definition")
	if err := c.AddDir(dir, true); err != nil {
		t.Fatalf("AddDir = %v", err)
	}
	if vs := c.Versions("exit"); len(vs) != 2 || vs[1] != 2 {
		t.Errorf("versions of exit = %v", vs)
	}
	if d, _ := c.Get("exit", 1); d.Source() != filepath.Join(dir, "exit.json") {
		t.Errorf("source of exit 1 = %q", d.Source())
	}
	c = builtin(t)
	write("bad.json", strings.Replace(smallDefinition, `"id": "exit"`, `"id": "entry"`, 1))
	write("worse.json", `{"id": "x"`)
	err := c.AddDir(dir, true)
	var de *DefinitionError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "worse.json") {
		t.Errorf("AddDir(two bad files) = %v, want both named", err)
	}
	if _, ok := c.Latest("exit"); ok {
		t.Errorf("AddDir with bad files added the good ones")
	}
}

type memFingerprints struct {
	fp   map[DefinitionKey]string
	data map[DefinitionKey]bool
	sets int
}

func (m *memFingerprints) QuestionnaireFingerprints(context.Context) (map[DefinitionKey]string, error) {
	out := map[DefinitionKey]string{}
	for k, v := range m.fp {
		out[k] = v
	}
	return out, nil
}

func (m *memFingerprints) HasSubmissions(_ context.Context, id string, v int) (bool, error) {
	return m.data[DefinitionKey{id, v}], nil
}

func (m *memFingerprints) SetQuestionnaireFingerprint(_ context.Context, id string, v int, fp string) error {
	m.fp[DefinitionKey{id, v}] = fp
	m.sets++
	return nil
}

func TestCheckFingerprints(t *testing.T) {
	ctx := context.Background()
	c := builtin(t)
	d, _ := c.CheckFile("exit.json", []byte(smallDefinition))
	c.versions["exit"] = []*Definition{d}
	store := &memFingerprints{fp: map[DefinitionKey]string{}, data: map[DefinitionKey]bool{}}
	all := len(c.IDs()) // the built-in questionnaires and exit, one version each
	if err := c.CheckFingerprints(ctx, store); err != nil || store.sets != all {
		t.Fatalf("CheckFingerprints(empty store) = %v, %d set, want %d", err, store.sets, all)
	}
	if err := c.CheckFingerprints(ctx, store); err != nil || store.sets != all {
		t.Fatalf("CheckFingerprints(again) = %v, %d set, want nothing new", err, store.sets)
	}
	key := DefinitionKey{"exit", 1}
	store.fp[key] = "changed"
	if err := c.CheckFingerprints(ctx, store); err != nil || store.fp[key] != d.Fingerprint() {
		t.Fatalf("CheckFingerprints(changed, no data) = %v, fingerprint %s", err, store.fp[key])
	}
	store.fp[key], store.data[key] = "changed", true
	err := c.CheckFingerprints(ctx, store)
	var ce *ChangedDefinitionError
	if !errors.As(err, &ce) || ce.ID != "exit" || ce.Version != 1 || ce.Source != "exit.json" || !strings.Contains(err.Error(), "raise its version") {
		t.Fatalf("CheckFingerprints(changed, data) = %v, want a ChangedDefinitionError", err)
	}
}

// TestCheckFileIndicators: a file declares indicators in the condition language, linked
// ones included; their conditions are checked against the items (and, for a link, the
// other questionnaire's), and ids are unique across questionnaires.
func TestCheckFileIndicators(t *testing.T) {
	c := builtin(t)
	linked := strings.Replace(exitIndicator("X1", `{"all": []}`), `"id": "X1"`, `"id": "X2"`, 1)
	linked = strings.Replace(linked, `"valid": {"answered": "care.plan"}, "yes": {"all": []}`,
		`"population": {"all": [{"item": "meta.consent", "in": ["1"]}, {"item": "care.plan", "in": ["1"]}]},
		 "link": {"questionnaire": "followup", "valid": {"answered": "care.release_plan"}, "yes": {"item": "care.release_plan", "in": ["1"]}}`, 1)
	data := strings.Replace(smallDefinition, `"id": "exit",`, `"id": "exit", "families": [`+exitFamily+`], "indicators": [`+
		exitIndicator("X1", `{"any": [{"item": "care.place", "in": ["gp"]}, {"not": {"item": "care.plan", "in": ["0", "8", "9"]}}]}`)+`, `+linked+`],`, 1)
	d, probs := c.CheckFile("exit.json", []byte(data))
	if len(probs) > 0 {
		t.Fatalf("CheckFile(indicators) problems %v", probs)
	}
	// exit asks no gender, age or nationality: its records are broken down by site only.
	if len(d.Indicators) != 2 || d.Indicators[0].Questionnaire != "exit" || !slices.Equal(d.Indicators[0].Breakdowns, []string{"site"}) {
		t.Errorf("indicators = %+v, want two of exit broken down by site only", d.Indicators)
	}
	if _, dists := d.Distributions(); len(dists) == 0 || !slices.Equal(dists[0].Breakdowns, []string{"site"}) {
		t.Errorf("item tables of exit = %+v, want them by site only", dists)
	}
	_, probs = c.CheckFile("exit.json", []byte(strings.Replace(data, `"sensitive": false,`, `"sensitive": false, "breakdowns": ["site", "gender"],`, 1)))
	if len(probs) != 1 || !strings.Contains(probs[0].String(), "X1: breakdowns: exit does not ask what the breakdown gender needs (demo.gender)") {
		t.Errorf("CheckFile(breakdown by gender, no gender item) problems %v", probs)
	}
	if d.Fingerprint() != mustCheck(t, c, smallDefinition).Fingerprint() {
		t.Error("indicators changed the fingerprint: they are not what the answers mean")
	}
	_, probs = c.CheckFile("exit.json", []byte(strings.ReplaceAll(data, `"X1"`, `"I01"`)))
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "I01 is declared by entry and exit") {
		t.Errorf("CheckFile(I01 again) problems %v, want the id declared twice", probs)
	}
	_, probs = c.CheckFile("exit.json", []byte(strings.Replace(data, `"care.release_plan", "in": ["1"]`, `"care.release_plan", "in": ["7"]`, 1)))
	if len(probs) != 1 || !strings.Contains(probs[0].Message, `link: care.release_plan has no stored code "7"`) {
		t.Errorf("CheckFile(bad link code) problems %v", probs)
	}
}

func mustCheck(t *testing.T, c *Catalog, data string) *Definition {
	t.Helper()
	d, probs := c.CheckFile("x.json", []byte(data))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return d
}

// TestDistributions: every choice and multi item outside meta, link and the breakdowns
// has a table; a country item's rows are the published groups (the unknown country is a
// missing answer), a residence item's secure and insecure.
func TestDistributions(t *testing.T) {
	d, _ := builtin(t).Latest("entry")
	fams, inds := d.Distributions()
	has := func(id string) bool {
		return slices.ContainsFunc(inds, func(i Indicator) bool { return i.ID == id })
	}
	for _, id := range []string{"entry/demo.birth_country=MAGHREB", "entry/demo.birth_country=OTHER", "entry/residence.status=insecure", "entry/drug.before_12m=cannabis"} {
		if !has(id) {
			t.Errorf("no distribution indicator %s", id)
		}
	}
	for _, id := range []string{"entry/demo.birth_country=UNKNOWN", "entry/demo.birth_country=MA", "entry/demo.gender=M", "entry/meta.consent=1", "entry/drug.main=8"} {
		if has(id) {
			t.Errorf("distribution indicator %s, want none", id)
		}
	}
	for _, f := range fams {
		it := d.Item(strings.TrimPrefix(f.ID, "entry/"))
		if it == nil || f.SingleChoice != (it.Type == TypeChoice) {
			t.Errorf("family %s: not an item's, or single_choice %v for a %s item", f.ID, f.SingleChoice, it.Type)
		}
	}
	var rec StoredSample = StoredSample{"meta.consent": {"1"}, "drug.before_12m": {"cannabis", "heroin"}, "demo.birth_country": {GroupEU13}}
	for _, ind := range inds {
		want := ind.ID == "entry/drug.before_12m=cannabis" || ind.ID == "entry/drug.before_12m=heroin" || ind.ID == "entry/demo.birth_country=EU"
		if got := ind.PopulationCond().Eval(rec) && ind.ValidCond().Eval(rec) && ind.Yes.Eval(rec); got != want {
			t.Errorf("%s counts the record: %v, want %v", ind.ID, got, want)
		}
	}
}

// TestRefusalStoresNothing: a refusal records the consent and the month, whatever the
// definition's conditions: an answer beside it is refused, a required item is not asked.
func TestRefusalStoresNothing(t *testing.T) {
	// care.plan asks no consent and is required.
	data := strings.Replace(smallDefinition, `{"code": "care.plan", "type": "choice", "list": "yn", "when": [{"item": "meta.consent", "in": ["1"]}],`,
		`{"code": "care.plan", "type": "choice", "list": "yn", "required": true,`, 1)
	d := mustCheck(t, builtin(t), data)
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	env := func(answers string) *Envelope {
		e, errs := DecodeEnvelope([]byte(`{"submission_id": "6b1f3c1e-8a4e-4f7a-9c55-0d6f1e2a3b4c", "questionnaire": "exit", "version": 1,
		  "site": "haren", "answers": {` + answers + `}}`))
		if errs != nil {
			t.Fatal(errs)
		}
		return e
	}
	if s, errs := Validate(d, env(`"meta.consent": "0", "meta.exit_month": "2025-05"`), now); errs != nil || s.Consent || len(s.Answers) != 2 {
		t.Errorf("refusal = %+v, %v; want it accepted with its consent and month only", s, errs)
	}
	_, errs := Validate(d, env(`"meta.consent": "0", "meta.exit_month": "2025-05", "care.plan": "1"`), now)
	if len(errs) != 1 || errs[0].Item != "care.plan" || errs[0].Code != ErrNotApplicable || !strings.Contains(errs[0].Message, ConsentItem) {
		t.Errorf("refusal with an answer: errors %+v, want care.plan not applicable (meta.consent)", errs)
	}
	if _, errs := Validate(d, env(`"meta.consent": "1", "meta.exit_month": "2025-05"`), now); len(errs) != 1 || errs[0].Code != ErrMissingRequired {
		t.Errorf("consent without the required care.plan: errors %+v", errs)
	}
}
