package words

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Lang is a language tamtam speaks: "fr", "nl" or "en".
type Lang string

// The languages, in the order the interface lists them.
const (
	FR Lang = "fr"
	NL Lang = "nl"
	EN Lang = "en"
)

// Langs are the supported languages.
var Langs = []Lang{FR, NL, EN}

// Parse returns the language named s ("fr", "nl" or "en", any case, or a tag such as
// "nl-BE"). An empty s is def. Any other value is an error: a language asked for by name
// is never silently replaced.
func Parse(s string, def Lang) (Lang, error) {
	if s == "" {
		return def, nil
	}
	base := strings.ToLower(s)
	if i := strings.IndexAny(base, "-_"); i > 0 {
		base = base[:i]
	}
	for _, l := range Langs {
		if base == string(l) {
			return l, nil
		}
	}
	return "", fmt.Errorf("unsupported language %q (fr, nl or en)", s)
}

var matcher = language.NewMatcher([]language.Tag{language.English, language.French, language.Dutch})

// Match returns the best supported language of an Accept-Language header, or def when
// the header names none of them (or is empty or malformed).
func Match(acceptLanguage string, def Lang) Lang {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return def
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return def
	}
	return Langs[[]int{2, 0, 1}[i]] // matcher order: en, fr, nl
}

// T returns the text of key in l, formatted with args as fmt.Sprintf does (a text always
// writes a percent sign as %%, with or without args). A missing key (or language)
// returns "[key]", visible in any output so a test notices it.
func (l Lang) T(key string, args ...any) string {
	t, ok := catalogue[key]
	if !ok {
		return "[" + key + "]"
	}
	s, ok := t[l]
	if !ok {
		return "[" + key + "]"
	}
	return fmt.Sprintf(s, args...)
}

// Number writes n with the digit grouping of l (1 234 in French, 1.234 in Dutch, 1,234 in
// English).
func (l Lang) Number(n int) string {
	return message.NewPrinter(language.Make(string(l))).Sprint(n)
}

// Has reports whether key is in the catalogue.
func Has(key string) bool {
	_, ok := catalogue[key]
	return ok
}

// All returns the texts of key in every language, for callers that carry all three (a
// questionnaire text, a JSON document in three languages). A missing key gives "[key]"
// in each.
func All(key string) map[Lang]string {
	out := make(map[Lang]string, len(Langs))
	for _, l := range Langs {
		out[l] = l.T(key)
	}
	return out
}

// Keys returns every key of the catalogue, sorted.
func Keys() []string {
	keys := make([]string, 0, len(catalogue))
	for k := range catalogue {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

//go:embed texts/*.json
var files embed.FS

// catalogue is every text by key and language, read once from texts/*.json.
var catalogue, loadErr = load(files)

func init() {
	if loadErr != nil {
		panic(loadErr) // a broken embedded file is a build defect; the tests say which
	}
}

// load reads every texts/*.json of fsys. A key defined in two files, or a language other
// than fr, nl and en, is an error.
func load(fsys fs.FS) (map[string]map[Lang]string, error) {
	names, err := fs.Glob(fsys, "texts/*.json")
	if err != nil {
		return nil, err
	}
	out := map[string]map[Lang]string{}
	from := map[string]string{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var texts map[string]map[Lang]string
		if err := json.Unmarshal(b, &texts); err != nil {
			return nil, fmt.Errorf("words: %s: %w", path.Base(name), err)
		}
		for key, t := range texts {
			if f, dup := from[key]; dup {
				return nil, fmt.Errorf("words: key %q defined in %s and %s", key, f, path.Base(name))
			}
			for l := range t {
				if !slices.Contains(Langs, l) {
					return nil, fmt.Errorf("words: %s: key %q: unknown language %q", path.Base(name), key, l)
				}
			}
			from[key] = path.Base(name)
			out[key] = t
		}
	}
	return out, nil
}
