package collector

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"indicators", `"id": "exit",`, `"id": "exit", "indicators": [],`, []string{"-: indicators: indicators in files are not supported yet"}},
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
