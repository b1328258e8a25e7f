package words

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryKeyInEveryLanguage fails when a text lacks a language or is empty.
func TestEveryKeyInEveryLanguage(t *testing.T) {
	for _, key := range Keys() {
		for _, l := range Langs {
			if s := catalogue[key][l]; strings.TrimSpace(s) == "" {
				t.Errorf("key %q has no %s text", key, l)
			}
		}
	}
}

// TestNoDrift fails when two keys give the same text in one language and different texts in
// another: the same thing named two ways (the "Gegevens tot en met" / "Gegevens afgesloten
// op" kind of drift). Words that one language distinguishes and another does not are
// listed in homonyms.
func TestNoDrift(t *testing.T) {
	homonyms := map[string]bool{}
	for _, l := range Langs {
		seen := map[string]string{}
		for _, key := range Keys() {
			s := catalogue[key][l]
			other, ok := seen[s]
			if !ok {
				seen[s] = key
				continue
			}
			if homonyms[key] || homonyms[other] {
				continue
			}
			for _, m := range Langs {
				if catalogue[key][m] != catalogue[other][m] {
					t.Errorf("%q and %q are both %q in %s but %q and %q in %s: one thing, one key",
						other, key, s, l, catalogue[other][m], catalogue[key][m], m)
				}
			}
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Lang
		ok   bool
	}{{"", FR, true}, {"fr", FR, true}, {"NL", NL, true}, {"nl-BE", NL, true}, {"en_GB", EN, true}, {"de", "", false}, {"french", "", false}} {
		got, err := Parse(tc.in, FR)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("Parse(%q) = %q, %v, want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		in   string
		def  Lang
		want Lang
	}{
		{"", EN, EN}, {"fr-BE,fr;q=0.9", EN, FR}, {"nl", FR, NL}, {"de-DE,nl;q=0.5", EN, NL},
		{"de", EN, EN}, {"de", FR, FR}, {"en-US,en;q=0.9", FR, EN}, {";;;garbage", EN, EN},
	} {
		if got := Match(tc.in, tc.def); got != tc.want {
			t.Errorf("Match(%q, %s) = %s, want %s", tc.in, tc.def, got, tc.want)
		}
	}
}

func TestT(t *testing.T) {
	if got := FR.T("app"); got != "tamtam" {
		t.Errorf(`FR.T("app") = %q`, got)
	}
	if got := EN.T("no such key"); got != "[no such key]" {
		t.Errorf("missing key = %q, want it visible", got)
	}
	if got := Lang("de").T("app"); got != "[app]" {
		t.Errorf("unknown language = %q, want the key visible", got)
	}
	if got, want := EN.Number(1234567), "1,234,567"; got != want {
		t.Errorf("EN.Number = %q, want %q", got, want)
	}
	if got := FR.Number(1234); !strings.Contains(got, "1") || got == "1234" {
		t.Errorf("FR.Number(1234) = %q, want grouped", got)
	}
}

// usedKey finds a literal key handed to the catalogue in Go code (x.T("key"…),
// words.All("key"), words.Has("key")) and in page templates ({{.T "key"}}, {{T "key"}}).
var usedKey = regexp.MustCompile(`(?:\.T\(|words\.All\(|words\.Has\(|\bT\s+)"([A-Za-z0-9_.:-]+)"`)

// TestUsedKeysExist reads the module's Go files and templates and fails on a literal key
// missing from the catalogue: a missing word is caught here, not by a reader.
func TestUsedKeysExist(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(p, "_test.go") || !(strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".tmpl")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range usedKey.FindAllStringSubmatch(string(b), -1) {
			if !Has(m[1]) {
				t.Errorf("%s: key %q is not in the catalogue", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// verb is a fmt verb of a text, or a percent sign alone (a mistake: write %%).
var verb = regexp.MustCompile(`%(?:%|[-+# 0]*[0-9]*(?:\.[0-9]+)?[a-zA-Z]|$|[^a-zA-Z%])`)

// TestVerbs fails when a text has a bare percent sign (fmt would mangle it) or when the
// languages of a key do not have the same verbs in the same order (an argument lost, or
// shown in the wrong place, in one language).
func TestVerbs(t *testing.T) {
	for _, key := range Keys() {
		var first []string
		for i, l := range Langs {
			var got []string
			for _, v := range verb.FindAllString(catalogue[key][l], -1) {
				if v == "%%" {
					continue
				}
				if !regexp.MustCompile(`^%[-+#0]*[0-9]*(?:\.[0-9]+)?[sdvqfx]$`).MatchString(v) {
					t.Errorf("key %q (%s): %q is not a verb: write a percent sign as %%%%", key, l, v)
					continue
				}
				got = append(got, v)
			}
			if i == 0 {
				first = got
			} else if !slices.Equal(got, first) {
				t.Errorf("key %q: verbs %v in %s, %v in %s", key, got, l, first, Langs[0])
			}
		}
	}
}
