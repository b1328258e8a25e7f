package collector

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// catalogFixture returns the small valid catalog of testdata/catalog as a MapFS that a
// test can change.
func catalogFixture(t *testing.T) fstest.MapFS {
	t.Helper()
	src := os.DirFS("testdata/catalog")
	out := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, name)
		out[name] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatalf("reading testdata/catalog: %v", err)
	}
	return out
}

// replaceIn replaces old by new in file name of fsys, failing if old is not there.
func replaceIn(t *testing.T, fsys fstest.MapFS, name, old, new string) {
	t.Helper()
	f, ok := fsys[name]
	if !ok || !strings.Contains(string(f.Data), old) {
		t.Fatalf("fixture %s does not contain %q", name, old)
	}
	fsys[name] = &fstest.MapFile{Data: []byte(strings.Replace(string(f.Data), old, new, 1))}
}

func TestLoadCatalogFixture(t *testing.T) {
	c, err := LoadCatalog(catalogFixture(t))
	if err != nil {
		t.Fatalf("LoadCatalog(testdata/catalog) error: %v", err)
	}
	d, ok := c.Latest("mini")
	if !ok {
		t.Fatalf("LoadCatalog(testdata/catalog).Latest(mini) not found")
	}
	if got, want := len(d.Items), 6; got != want {
		t.Errorf("mini has %d items, want %d", got, want)
	}
	if got, want := d.PeriodItem(), "meta.month"; got != want {
		t.Errorf("mini.PeriodItem() = %s, want %s", got, want)
	}
	if got := c.IDs(); !slices.Equal(got, []string{"mini"}) {
		t.Errorf("IDs() = %v, want [mini]", got)
	}
	// 8 and 9 are added to choice items, not to consent (missing_codes false).
	if _, ok := d.Item("demo.gender").Choice("9"); !ok {
		t.Errorf("mini demo.gender has no choice 9")
	}
	if _, ok := d.Item("meta.consent").Choice("9"); ok {
		t.Errorf("mini meta.consent has a choice 9, want none (missing_codes false)")
	}
	if it := d.Item("demo.age"); it.Min == nil || *it.Min != 18 || it.Max == nil || *it.Max != 99 || it.Section != "demo" {
		t.Errorf("mini demo.age = %+v, want min 18, max 99, section demo", it)
	}

	t.Run("versions", func(t *testing.T) {
		fsys := catalogFixture(t)
		v2 := strings.Replace(string(fsys["mini.v1.json"].Data), `"version": 1`, `"version": 2`, 1)
		fsys["mini.v2.json"] = &fstest.MapFile{Data: []byte(v2)}
		fsys["mini.v10.json"] = &fstest.MapFile{Data: []byte(strings.Replace(v2, `"version": 2`, `"version": 10`, 1))}
		c, err := LoadCatalog(fsys)
		if err != nil {
			t.Fatalf("LoadCatalog(three versions) error: %v", err)
		}
		if got, want := c.Versions("mini"), []int{1, 2, 10}; !slices.Equal(got, want) {
			t.Errorf("Versions(mini) = %v, want %v", got, want)
		}
		if d, _ := c.Latest("mini"); d.Version != 10 {
			t.Errorf("Latest(mini).Version = %d, want 10", d.Version)
		}
		if d, ok := c.Get("mini", 2); !ok || d.Version != 2 {
			t.Errorf("Get(mini, 2) = %v, %v, want version 2", d, ok)
		}
		if _, ok := c.Get("mini", 3); ok {
			t.Errorf("Get(mini, 3) found, want not found")
		}
		if _, ok := c.Latest("entry"); ok {
			t.Errorf("Latest(entry) found in the fixture catalog")
		}
	})
}

func TestLoadCatalogErrors(t *testing.T) {
	const def = "mini.v1.json"
	tests := []struct {
		name    string
		change  func(t *testing.T, fsys fstest.MapFS)
		wantErr []string // all must appear in the error
	}{
		{"unknown key in an item", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",`, `"code": "demo.gender", "type": "choice", "colour": "red",`)
		}, []string{def, "colour"}},
		{"unknown key at the top", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"id": "mini",`, `"id": "mini", "author": "x",`)
		}, []string{def, "author"}},
		{"label missing nl", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"label": {"fr": "Genre", "nl": "Gender", "en": "Gender"}`, `"label": {"fr": "Genre", "en": "Gender"}`)
		}, []string{"demo.gender", "label needs fr, nl and en"}},
		{"choice label missing nl", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `{"fr": "Femme", "nl": "Vrouw", "en": "Woman"}`, `{"fr": "Femme", "nl": "", "en": "Woman"}`)
		}, []string{"demo.gender", "choice F", "fr, nl and en"}},
		{"list label missing nl", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, "lists.json", `"nl": "Ja", `, ``)
		}, []string{"lists.json", "yn", "fr, nl and en"}},
		{"title missing en", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `, "en": "Mini questionnaire"}`, `}`)
		}, []string{def, "title"}},
		{"when on an unknown item", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",
     "when": [{"item": "meta.consent"`, `"code": "demo.gender", "type": "choice",
     "when": [{"item": "meta.agreement"`)
		}, []string{"demo.gender", "meta.agreement", "not an earlier item"}},
		{"when on a later item", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"store": "link_key",
     "when": [{"item": "meta.consent", "in": ["1"]}]`, `"store": "link_key",
     "when": [{"item": "demo.gender", "in": ["M"]}]`)
		}, []string{"link.identifier", "demo.gender", "not an earlier item"}},
		{"when with an unknown code", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",
     "when": [{"item": "meta.consent", "in": ["1"]}]`, `"code": "demo.gender", "type": "choice",
     "when": [{"item": "meta.consent", "in": ["yes"]}]`)
		}, []string{"demo.gender", "unknown code"}},
		{"when on an integer item", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",
     "when": [{"item": "meta.consent", "in": ["1"]}]`, `"code": "demo.gender", "type": "choice",
     "when": [{"item": "demo.age", "in": ["18"]}]`)
		}, []string{"demo.gender", "choice item"}},
		{"link_key on a choice item", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",`, `"code": "demo.gender", "type": "choice", "store": "link_key",`)
		}, []string{"demo.gender", "link_key applies to identifier items"}},
		{"identifier without link_key", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"type": "identifier", "store": "link_key",`, `"type": "identifier",`)
		}, []string{"link.identifier", "must be stored as link_key"}},
		{"identifier stored as age band", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"type": "identifier", "store": "link_key",`, `"type": "identifier", "store": "age_band",`)
		}, []string{"link.identifier", "age_band"}},
		{"unknown store", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"store": "age_band"`, `"store": "plain"`)
		}, []string{"demo.age", "unknown store"}},
		{"country_group on other choices", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",`, `"code": "demo.gender", "type": "choice", "store": "country_group",`)
		}, []string{"demo.gender", "country_group"}},
		{"residence_security on other choices", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",`, `"code": "demo.gender", "type": "choice", "store": "residence_security",`)
		}, []string{"demo.gender", "residence_security"}},
		{"list not found", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"list": "yn"`, `"list": "yesno"`)
		}, []string{"meta.consent", `unknown list "yesno"`}},
		{"list and choices", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",`, `"code": "demo.gender", "type": "choice", "list": "yn",`)
		}, []string{"demo.gender", "exactly one of list and choices"}},
		{"choice without choices", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"list": "countries", `, ``)
		}, []string{"demo.nationality", "exactly one of list and choices"}},
		{"choice listed twice", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `{"code": "F", `, `{"code": "M", `)
		}, []string{"demo.gender", "listed twice"}},
		{"choice 9 clashes with the missing codes", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `{"code": "F", `, `{"code": "9", `)
		}, []string{"demo.gender", "listed twice"}},
		{"item code used twice", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender"`, `"code": "demo.age"`)
		}, []string{"demo.age", "used twice"}},
		{"invalid item code", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender"`, `"code": "Gender"`)
		}, []string{"Gender", "invalid item code"}},
		{"unknown type", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice"`, `"code": "demo.gender", "type": "text"`)
		}, []string{"demo.gender"}},
		{"integer without max", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"max": 99, `, ``)
		}, []string{"demo.age", "min <= max"}},
		{"integer min above max", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"min": 18, "max": 99`, `"min": 99, "max": 18`)
		}, []string{"demo.age", "min <= max"}},
		{"integer min as string", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"min": 18`, `"min": "18"`)
		}, []string{"demo.age", "min must be an integer"}},
		{"month min not a month", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"min": "2015-01"`, `"min": "2015-01-01"`)
		}, []string{"meta.month", "YYYY-MM"}},
		{"min on a choice item", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"code": "demo.gender", "type": "choice",`, `"code": "demo.gender", "type": "choice", "min": 1,`)
		}, []string{"demo.gender", "min and max"}},
		{"no period item", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, def, `"type": "month", "required": true`, `"type": "month", "required": false`)
		}, []string{def, "month item"}},
		{"no consent item", func(t *testing.T, fsys fstest.MapFS) {
			f := fsys[def]
			fsys[def] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(f.Data), "meta.consent", "meta.agree"))}
		}, []string{def, "meta.consent"}},
		{"trailing data", func(t *testing.T, fsys fstest.MapFS) {
			fsys[def] = &fstest.MapFile{Data: append(fsys[def].Data, "{}"...)}
		}, []string{def, "trailing"}},
		{"lists.json missing", func(t *testing.T, fsys fstest.MapFS) {
			delete(fsys, "lists.json")
		}, []string{"lists.json"}},
		{"missing list absent", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, "lists.json", `"missing"`, `"absent"`)
		}, []string{"lists.json", `"missing"`}},
		{"countries redefined", func(t *testing.T, fsys fstest.MapFS) {
			replaceIn(t, fsys, "lists.json", `"yn"`, `"countries": [], "yn"`)
		}, []string{"lists.json", "countries"}},
		{"file version not matching", func(t *testing.T, fsys fstest.MapFS) {
			fsys["mini.v2.json"] = fsys[def]
		}, []string{"mini.v2.json", "declares mini version 1"}},
		{"file id not matching", func(t *testing.T, fsys fstest.MapFS) {
			fsys["other.v1.json"] = fsys[def]
		}, []string{"other.v1.json", "declares mini version 1"}},
		{"file name not ID.vN.json", func(t *testing.T, fsys fstest.MapFS) {
			fsys["mini.json"] = fsys[def]
		}, []string{"mini.json", "ID.vN.json"}},
		{"file name with version 0", func(t *testing.T, fsys fstest.MapFS) {
			fsys["mini.v0.json"] = fsys[def]
		}, []string{"mini.v0.json", "ID.vN.json"}},
		{"no definitions", func(t *testing.T, fsys fstest.MapFS) {
			delete(fsys, def)
		}, []string{"no questionnaire definitions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := catalogFixture(t)
			tt.change(t, fsys)
			c, err := LoadCatalog(fsys)
			if err == nil {
				t.Fatalf("LoadCatalog(%s) = %v, nil, want an error", tt.name, c)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("LoadCatalog(%s) error = %q, want it to mention %q", tt.name, err, want)
				}
			}
		})
	}
}

// TestLoadCatalogRefusesUncoarsenedCountries: PRIVACY.md R2 says a country is only ever
// stored as its nationality group, and StoreAs promises that no definition file can make
// tamtam store a value that anonymisation should remove. A definition that takes its
// choices from the countries list but stores them as is (or takes made-up "country"
// choices with a group) must stop tamtam at start.
func TestLoadCatalogRefusesUncoarsenedCountries(t *testing.T) {
	t.Run("countries stored as is", func(t *testing.T) {
		fsys := catalogFixture(t)
		replaceIn(t, fsys, "mini.v1.json", `"list": "countries", "store": "country_group",`, `"list": "countries",`)
		if _, err := LoadCatalog(fsys); err == nil {
			t.Errorf("LoadCatalog(countries list stored as is) = nil error, want an error")
		}
	})
	t.Run("inline choices with a group", func(t *testing.T) {
		fsys := catalogFixture(t)
		replaceIn(t, fsys, "mini.v1.json", `"code": "demo.gender", "type": "choice",`, `"code": "demo.gender", "type": "choice", "store": "country_group",`)
		replaceIn(t, fsys, "mini.v1.json", `{"code": "M", `, `{"code": "M", "group": "SSA", `)
		replaceIn(t, fsys, "mini.v1.json", `{"code": "F", `, `{"code": "F", "group": "ASIA", `)
		c, err := LoadCatalog(fsys)
		if err == nil {
			// Accepted: Anonymise then fails on the first answer, not at start.
			d, _ := c.Latest("mini")
			env := decodeBody(t, submissionBody(t, "mini", "haren", map[string]any{"meta.consent": "1", "meta.month": "2025-03", "demo.age": 30, "demo.gender": "M"}))
			s, errs := Validate(d, env, testNow)
			if errs != nil {
				t.Fatalf("Validate(mini) = %v", errorPairs(errs))
			}
			_, aerr := testAnonymiser(t).Anonymise(s, testReceived)
			t.Errorf("LoadCatalog(country_group on non-country choices) = nil error, want an error (Anonymise then says %v)", aerr)
		}
	})
}

// TestServedDefinition checks that the built-in entry definition is served in the shape of
// DESIGN.md §3.
func TestServedDefinition(t *testing.T) {
	d := builtinDefinition(t, "entry")
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("json.Marshal(entry) error: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("json.Unmarshal(served entry) error: %v", err)
	}
	if got["id"] != "entry" || got["version"] != 1.0 {
		t.Errorf("served entry id, version = %v, %v, want entry, 1", got["id"], got["version"])
	}
	checkText := func(what string, v any) {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("served %s = %v, want an object", what, v)
			return
		}
		for _, l := range Languages {
			if s, ok := m[l].(string); !ok || s == "" {
				t.Errorf("served %s.%s = %v, want a non-empty string", what, l, m[l])
			}
		}
	}
	checkText("title", got["title"])
	items, ok := got["items"].([]any)
	if !ok || len(items) != len(d.Items) {
		t.Fatalf("served items = %T of %d, want an array of %d", got["items"], len(items), len(d.Items))
	}
	byCode := map[string]map[string]any{}
	for i, raw := range items {
		it, ok := raw.(map[string]any)
		if !ok {
			t.Fatalf("served items[%d] = %v, want an object", i, raw)
		}
		code, _ := it["code"].(string)
		byCode[code] = it
		if code != d.Items[i].Code {
			t.Errorf("served items[%d].code = %v, want %s", i, it["code"], d.Items[i].Code)
		}
		if typ, _ := it["type"].(string); !slices.Contains([]string{"choice", "multi", "integer", "month", "identifier"}, typ) {
			t.Errorf("served %s.type = %v, want a DESIGN.md type", code, it["type"])
		}
		if _, ok := it["required"].(bool); !ok {
			t.Errorf("served %s.required = %v, want a boolean", code, it["required"])
		}
		checkText(code+".label", it["label"])
		if typ := it["type"]; typ == "choice" || typ == "multi" {
			choices, ok := it["choices"].([]any)
			if !ok || len(choices) == 0 {
				t.Errorf("served %s.choices = %v, want a non-empty array", code, it["choices"])
			}
			for j, ch := range choices {
				m, _ := ch.(map[string]any)
				if c, ok := m["code"].(string); !ok || c == "" {
					t.Errorf("served %s.choices[%d].code = %v, want a string", code, j, m["code"])
				}
				checkText(code+".choices.label", m["label"])
			}
		} else if _, ok := it["choices"]; ok {
			t.Errorf("served %s has choices, want none for type %v", code, typ)
		}
		if w, ok := it["when"]; ok {
			conds, ok := w.([]any)
			if !ok || len(conds) == 0 {
				t.Errorf("served %s.when = %v, want a non-empty array", code, w)
			}
			for _, c := range conds {
				m, _ := c.(map[string]any)
				in, ok := m["in"].([]any)
				if _, isStr := m["item"].(string); !isStr || !ok || len(in) == 0 {
					t.Errorf("served %s.when = %v, want item and in", code, c)
				}
				for _, v := range in {
					if _, ok := v.(string); !ok {
						t.Errorf("served %s.when.in = %v, want strings", code, in)
					}
				}
			}
		}
	}

	gender := byCode["demo.gender"]
	if gender["required"] != true {
		t.Errorf("served demo.gender.required = %v, want true", gender["required"])
	}
	wantWhen := []any{map[string]any{"item": "meta.consent", "in": []any{"1"}}}
	if data, _ := json.Marshal(gender["when"]); string(data) != mustJSON(t, wantWhen) {
		t.Errorf("served demo.gender.when = %s, want %s", data, mustJSON(t, wantWhen))
	}
	if first, _ := gender["choices"].([]any); len(first) > 0 {
		m := first[0].(map[string]any)
		label, _ := m["label"].(map[string]any)
		if got := slices.Sorted(maps.Keys(m)); m["code"] != "M" || !slices.Equal(got, []string{"code", "label"}) || len(label) != 3 {
			t.Errorf("served demo.gender.choices[0] = %s, want {\"code\":\"M\",\"label\":{\"fr\":…,\"nl\":…,\"en\":…}}", mustJSON(t, m))
		}
	}
	age := byCode["demo.age"]
	if age["min"] != 18.0 || age["max"] != 99.0 {
		t.Errorf("served demo.age min, max = %#v, %#v, want numbers 18, 99", age["min"], age["max"])
	}
	if m := byCode["drug.main_age_first"]; m["min"] != 5.0 || m["max"] != 99.0 {
		t.Errorf("served drug.main_age_first min, max = %#v, %#v, want numbers 5, 99", m["min"], m["max"])
	}
	month := byCode["meta.entry_month"]
	if month["min"] != "2015-01" || month["type"] != "month" {
		t.Errorf("served meta.entry_month min = %#v, want the string 2015-01", month["min"])
	}
	if _, ok := month["max"]; ok {
		t.Errorf("served meta.entry_month has a max, want none")
	}
	if _, ok := byCode["meta.consent"]["when"]; ok {
		t.Errorf("served meta.consent has when, want none (it always applies)")
	}
	if id := byCode["link.identifier"]; id["type"] != "identifier" {
		t.Errorf("served link.identifier.type = %v, want identifier", id["type"])
	}
	// 8 and 9 are served as choices of ordinary choice items, so forms can offer them.
	codes := func(item string) []string {
		var out []string
		for _, ch := range byCode[item]["choices"].([]any) {
			out = append(out, ch.(map[string]any)["code"].(string))
		}
		return out
	}
	if got := codes("demo.gender"); !slices.Equal(got, []string{"M", "F", "X", "8", "9"}) {
		t.Errorf("served demo.gender choice codes = %v, want [M F X 8 9]", got)
	}
	if got := codes("meta.consent"); !slices.Equal(got, []string{"1", "0"}) {
		t.Errorf("served meta.consent choice codes = %v, want [1 0]", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestLoadSites(t *testing.T) {
	s, err := LoadSites("")
	if err != nil {
		t.Fatalf("LoadSites(\"\") error: %v", err)
	}
	for code, region := range map[string]string{
		"haren": "brussels", "jamioulx": "wallonia", "lantin": "wallonia",
		"mons": "wallonia", "andenne": "wallonia", "hasselt": "flanders",
	} {
		site, ok := s.Get(code)
		if !ok {
			t.Errorf("LoadSites(\"\").Get(%s) not found", code)
			continue
		}
		if site.Region != region || !site.Name.complete() || site.Code != code {
			t.Errorf("LoadSites(\"\").Get(%s) = %+v, want region %s and names in fr, nl, en", code, site, region)
		}
	}
	if site, _ := s.Get("mons"); site.Name.NL != "Gevangenis van Bergen" {
		t.Errorf("LoadSites(\"\").Get(mons).Name.NL = %q, want %q", site.Name.NL, "Gevangenis van Bergen")
	}
	if _, ok := s.Get("Haren"); ok {
		t.Errorf("LoadSites(\"\").Get(Haren) found, want codes to be exact")
	}
	all := s.All()
	if len(all) < 30 || all[0].Code != "haren" {
		t.Errorf("LoadSites(\"\").All() = %d sites starting with %v, want the built-in list in file order", len(all), all[0])
	}
	all[0].Code = "changed"
	if s.All()[0].Code != "haren" {
		t.Errorf("Sites.All() returns the internal slice; changing it changed the sites")
	}
}

func TestLoadSitesExtra(t *testing.T) {
	write := func(t *testing.T, content string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "sites.csv")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const header = "code,name_fr,name_nl,name_en,region\n"

	t.Run("adds and renames", func(t *testing.T) {
		builtin, _ := LoadSites("")
		path := write(t, header+
			"saint-gilles,Prison de Saint-Gilles,Gevangenis van Sint-Gillis,Saint-Gilles prison,brussels\n"+
			"haren,Centre pénitentiaire de Haren,Penitentiair centrum Haren,Haren prison complex,brussels\n")
		s, err := LoadSites(path)
		if err != nil {
			t.Fatalf("LoadSites(extra) error: %v", err)
		}
		if site, ok := s.Get("saint-gilles"); !ok || site.Region != "brussels" || site.Name.NL != "Gevangenis van Sint-Gillis" {
			t.Errorf("LoadSites(extra).Get(saint-gilles) = %+v, %v, want the new site", site, ok)
		}
		if site, _ := s.Get("haren"); site.Name.FR != "Centre pénitentiaire de Haren" {
			t.Errorf("LoadSites(extra).Get(haren).Name.FR = %q, want the new name", site.Name.FR)
		}
		all := s.All()
		if got, want := len(all), len(builtin.All())+1; got != want {
			t.Errorf("len(LoadSites(extra).All()) = %d, want %d (one added, one renamed in place)", got, want)
		}
		if all[0].Code != "haren" || all[0].Name.FR != "Centre pénitentiaire de Haren" || all[len(all)-1].Code != "saint-gilles" {
			t.Errorf("LoadSites(extra).All() = first %v, last %v, want haren renamed in place and saint-gilles last", all[0], all[len(all)-1])
		}
	})

	tests := []struct {
		name, content, wantErr string
	}{
		{"upper-case code", header + "Forest,Prison de Forest,Gevangenis van Vorst,Forest prison,brussels\n", "site code"},
		{"code with a space", header + "saint gilles,Prison de Saint-Gilles,Gevangenis van Sint-Gillis,Saint-Gilles prison,brussels\n", "site code"},
		{"accented code", header + "tournai-é,Prison,Gevangenis,Prison,wallonia\n", "site code"},
		{"bad region", header + "forest,Prison de Forest,Gevangenis van Vorst,Forest prison,bruxelles\n", "region"},
		{"empty region", header + "forest,Prison de Forest,Gevangenis van Vorst,Forest prison,\n", "region"},
		{"missing name", header + "forest,Prison de Forest,,Forest prison,brussels\n", "names"},
		{"bad header", "code,name,region\nforest,Forest,brussels\n", "header"},
		{"header in another order", "code,name_nl,name_fr,name_en,region\n", "header"},
		{"empty file", "", "header"},
		{"wrong number of fields", header + "forest,Prison de Forest,Gevangenis van Vorst,brussels\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.content)
			s, err := LoadSites(path)
			if err == nil {
				t.Fatalf("LoadSites(%s) = %v, nil, want an error", tt.name, s)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("LoadSites(%s) error = %q, want it to name the file and mention %q", tt.name, err, tt.wantErr)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		if _, err := LoadSites(filepath.Join(t.TempDir(), "none.csv")); err == nil {
			t.Errorf("LoadSites(missing file) = nil error, want an error")
		}
	})
}

func TestNewTokenFor(t *testing.T) {
	sites, err := LoadSites("")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 15, 14, 3, 7, 999, time.FixedZone("CEST", 2*60*60))
	tests := []struct {
		name    string
		role    Role
		sites   []string
		label   string
		wantErr string // "" for success
	}{
		{"intake", RoleIntake, []string{"haren", "mons"}, "Haren team", ""},
		{"funder", RoleFunder, []string{"jamioulx", "lantin", "mons"}, "AVIQ", ""},
		{"coordinator", RoleCoordinator, nil, "coordination", ""},
		{"unknown site", RoleIntake, []string{"haren", "atlantis"}, "", "atlantis"},
		{"coordinator with sites", RoleCoordinator, []string{"haren"}, "", "coordinator"},
		{"intake without sites", RoleIntake, nil, "", "site"},
		{"funder without sites", RoleFunder, []string{}, "", "site"},
		{"label on two lines", RoleIntake, []string{"haren"}, "a\nb", "label"},
		{"label too long", RoleIntake, []string{"haren"}, strings.Repeat("x", 201), "label"},
		{"unknown role", Role("admin"), []string{"haren"}, "", "role"},
		{"empty role", Role(""), []string{"haren"}, "", "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bearer, tok, err := NewTokenFor(tt.role, slices.Clone(tt.sites), tt.label, sites, now)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("NewTokenFor(%s, %v) = %+v, nil, want an error", tt.role, tt.sites, tok)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("NewTokenFor(%s, %v) error = %q, want it to mention %q", tt.role, tt.sites, err, tt.wantErr)
				}
				if bearer != "" {
					t.Errorf("NewTokenFor(%s, %v) returned a bearer with an error", tt.role, tt.sites)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewTokenFor(%s, %v) error: %v", tt.role, tt.sites, err)
			}
			if !strings.HasPrefix(bearer, "tt_") || len(bearer) < 40 {
				t.Errorf("NewTokenFor(%s) bearer = %q, want tt_ and 256 random bits", tt.role, bearer)
			}
			if HashToken(bearer) != tok.Hash || len(tok.Hash) != 64 {
				t.Errorf("HashToken(bearer) = %s, want Token.Hash %s", HashToken(bearer), tok.Hash)
			}
			if strings.Contains(tok.Hash, bearer) || tok.Label != tt.label || tok.Role != tt.role || tok.Revoked {
				t.Errorf("NewTokenFor(%s) token = %+v, want hash, role and label of the request", tt.role, tok)
			}
			if !slices.Equal(tok.Sites, tt.sites) && !(len(tok.Sites) == 0 && len(tt.sites) == 0) {
				t.Errorf("NewTokenFor(%s).Sites = %v, want %v", tt.role, tok.Sites, tt.sites)
			}
			if want := time.Date(2025, 6, 15, 12, 3, 7, 0, time.UTC); !tok.CreatedAt.Equal(want) || tok.CreatedAt.Location() != time.UTC {
				t.Errorf("NewTokenFor().CreatedAt = %v, want %v", tok.CreatedAt, want)
			}
		})
	}

	t.Run("two tokens differ", func(t *testing.T) {
		a, _, _ := NewTokenFor(RoleIntake, []string{"haren"}, "", sites, now)
		b, _, _ := NewTokenFor(RoleIntake, []string{"haren"}, "", sites, now)
		if a == b {
			t.Errorf("NewTokenFor() twice = %s both times, want random tokens", a)
		}
	})
	t.Run("sites sorted and deduplicated", func(t *testing.T) {
		_, tok, err := NewTokenFor(RoleFunder, []string{"mons", "haren", "mons"}, "", sites, now)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tok.Sites, []string{"haren", "mons"}) {
			t.Errorf("NewTokenFor(mons, haren, mons).Sites = %v, want [haren mons]", tok.Sites)
		}
	})
}

func TestParseRole(t *testing.T) {
	for _, s := range []string{"intake", "coordinator", "funder"} {
		if r, err := ParseRole(s); err != nil || string(r) != s {
			t.Errorf("ParseRole(%s) = %s, %v, want %s, nil", s, r, err, s)
		}
	}
	for _, s := range []string{"", "admin", "Intake"} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) = nil error, want an error", s)
		}
	}
}

func TestPrincipal(t *testing.T) {
	intake := Principal{Role: RoleIntake, Sites: []string{"haren", "mons"}}
	funder := Principal{Role: RoleFunder, Sites: []string{"lantin"}}
	coord := Principal{Role: RoleCoordinator}
	tests := []struct {
		name       string
		p          Principal
		site       string
		submit, rd bool
	}{
		{"intake own site", intake, "haren", true, false},
		{"intake second site", intake, "mons", true, false},
		{"intake other site", intake, "lantin", false, false},
		{"funder own site", funder, "lantin", false, true},
		{"funder other site", funder, "haren", false, false},
		{"coordinator any site", coord, "haren", false, true},
		{"coordinator another site", coord, "hasselt", false, true},
		{"unknown role", Principal{Role: "admin", Sites: []string{"haren"}}, "haren", false, false},
		{"intake empty site", intake, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.CanSubmit(tt.site); got != tt.submit {
				t.Errorf("Principal{%s %v}.CanSubmit(%q) = %v, want %v", tt.p.Role, tt.p.Sites, tt.site, got, tt.submit)
			}
			if got := tt.p.CanRead(tt.site); got != tt.rd {
				t.Errorf("Principal{%s %v}.CanRead(%q) = %v, want %v", tt.p.Role, tt.p.Sites, tt.site, got, tt.rd)
			}
		})
	}
}
