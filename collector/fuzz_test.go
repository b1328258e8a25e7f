package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The fuzz targets of DESIGN.md §5 ("decoding and validation are fuzzed"). In a plain
// `go test` they run their seeds (f.Add and testdata/fuzz/<Name>/); `go test -fuzz` explores.
// Every property is re-checked here with code independent of the code under test
// (encoding/json instead of the package's decoder, our own applicability and range rules).

// fzFieldErrorCodes are the codes a FieldError may carry (errors.go).
var fzFieldErrorCodes = map[string]bool{
	ErrMalformed: true, ErrUnknownField: true, ErrDuplicateKey: true, ErrMissingField: true,
	ErrInvalidID: true, ErrUnknownQuest: true, ErrUnknownVersion: true, ErrUnknownSite: true,
	ErrUnknownItem: true, ErrWrongType: true, ErrInvalidChoice: true, ErrDuplicateChoice: true,
	ErrMissingRequired: true, ErrNotApplicable: true, ErrIdentifierLike: true, ErrBadMonth: true,
	ErrMonthFuture: true, ErrMonthTooEarly: true, ErrOutOfRange: true, ErrAboveItem: true,
	ErrNotSubset: true, ErrEmptyAnswer: true, ErrTooMany: true, ErrSiteNotAllowed: true,
}

// fzNoPanic turns a panic of the code under test into a test failure that names the input,
// so that one crashing seed does not stop the other targets. Use it deferred.
func fzNoPanic(t *testing.T, what string, input []byte) {
	if r := recover(); r != nil {
		t.Fatalf("%s(%q) panicked: %v\n%s", what, input, r, debug.Stack())
	}
}

// fzJSONValues returns the string and number literals of data, keys included, as far as
// data is valid JSON: the values of the input that an error message must not quote.
func fzJSONValues(data []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []string
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		switch v := tok.(type) {
		case string:
			out = append(out, v, NormaliseIdentifier(v))
		case json.Number:
			out = append(out, string(v))
		}
	}
}

// fzQuoted returns a value of vals that msg quotes: longer than 3 characters, not an
// item or field code, and not part of vocab, the fixed wording messages are made of
// (so that an answer "must" is not taken for a quote in "must be a string").
func fzQuoted(msg string, vals []string, codes map[string]bool, vocab string) (string, bool) {
	for _, v := range vals {
		if utf8.RuneCountInString(v) <= 3 || codes[v] || strings.Contains(vocab, v) {
			continue
		}
		if strings.Contains(msg, v) {
			return v, true
		}
	}
	return "", false
}

// fzCodes returns the field names of the envelope and the item codes of every built-in
// questionnaire: the codes a message may name.
func fzCodes(tb testing.TB, cat *Catalog) map[string]bool {
	tb.Helper()
	codes := map[string]bool{}
	for _, f := range envelopeFields {
		codes[f] = true
	}
	for _, id := range cat.IDs() {
		for _, v := range cat.Versions(id) {
			d, _ := cat.Get(id, v)
			for _, it := range d.Items {
				codes[it.Code] = true
			}
		}
	}
	return codes
}

func fzCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	cat, err := BuiltinCatalog()
	if err != nil {
		tb.Fatalf("BuiltinCatalog() error: %v", err)
	}
	return cat
}

// fzVocabulary runs probes through fn and returns the text of every message, failing if a
// probe value (all chosen to be longer than 3 characters and absent from any fixed
// wording) shows up in a message: the vocabulary must not itself hold quotes.
func fzVocabulary(tb testing.TB, probes [][]byte, values []string, fn func([]byte) []FieldError) string {
	tb.Helper()
	var b strings.Builder
	for _, p := range probes {
		for _, e := range fn(p) {
			for _, v := range values {
				if strings.Contains(e.Message, v) {
					tb.Fatalf("probe %s: message %q of %s:%s quotes %q", p, e.Message, e.Item, e.Code, v)
				}
			}
			b.WriteString(e.Message)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// fzEnvelopeVocabulary returns the fixed wording of DecodeEnvelope's messages, by running
// bodies that take every error path.
func fzEnvelopeVocabulary(tb testing.TB) string {
	tb.Helper()
	valid := `{"submission_id":"` + testSubmissionID + `","questionnaire":"entry","version":1,"site":"haren","answers":{}}`
	probes := [][]byte{
		nil,
		[]byte(`[]`),
		[]byte(`{}`),
		[]byte(`{"zzqq":1,"zzqq":2}`),
		[]byte(`{"submission_id":1,"questionnaire":"","version":0,"site":[],"answers":[],"zzqq":1}`),
		[]byte(`{"submission_id":"zzqq-zzqq","questionnaire":"zzqq","version":"zzqq","site":"zzqq","answers":{"zzqq":1,"zzqq":2}}`),
		[]byte(`{"submission_id":"zzqq","questionnaire":"zzqq","version":-7777,"site":"zzqq","answers":"zzqq"}`),
		[]byte(valid + ` zzqq`),
		[]byte(valid + valid),
	}
	return fzVocabulary(tb, probes, []string{"zzqq", "7777"}, func(b []byte) []FieldError {
		_, errs := DecodeEnvelope(b)
		return errs
	})
}

// fzSameJSON reports whether a and b are the same JSON value.
func fzSameJSON(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// fzEnvelopeBody returns a submission body with the given raw answers, keys sorted.
func fzEnvelopeBody(id string, version int, answers map[string][]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"submission_id":%q,"questionnaire":%q,"version":%d,"site":"haren","answers":{`, testSubmissionID, id, version)
	for i, k := range slices.Sorted(maps.Keys(answers)) {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(answers[k])
	}
	b.WriteString("}}")
	return b.Bytes()
}

// fzRawAnswers encodes answers of the helpers of validate_test.go as raw JSON.
func fzRawAnswers(tb testing.TB, answers map[string]any) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	for k, v := range answers {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatalf("json.Marshal(%v) error: %v", v, err)
		}
		out[k] = b
	}
	return out
}

// FuzzDecodeEnvelope: any bytes never panic; an envelope survives re-encoding; errors are
// complete and never quote the body.
func FuzzDecodeEnvelope(f *testing.F) {
	valid := string(fzEnvelopeBody("entry", 1, fzRawAnswers(f, entryAnswers())))
	for _, s := range []string{
		valid,
		string(fzEnvelopeBody("entry", 1, fzRawAnswers(f, refusalAnswers()))),
		strings.Replace(valid, testSubmissionID, strings.ToUpper(testSubmissionID), 1),
		strings.Replace(valid, `"site"`, `"name":"Jean Dupont","site"`, 1),
		strings.Replace(valid, `"site":"haren"`, `"site":"haren","site":"mons"`, 1),
		strings.Replace(valid, `"demo.age":34`, `"demo.age":34,"demo.age":35`, 1),
		strings.Replace(valid, `"version":1`, `"version":1.0`, 1),
		strings.Replace(valid, `"version":1`, `"version":1e0`, 1),
		strings.Replace(valid, `"version":1`, `"version":99999999999999999999`, 1),
		strings.Replace(valid, `"haren"`, `"har\u00e9n\ud800"`, 1),
		strings.Replace(valid, `"haren"`, "\"har\xffen\"", 1), // not UTF-8
		strings.Replace(valid, `"demo.age":34`, `"demo.age" : 34 `, 1),
		strings.Replace(valid, `"demo.age":34`, `"demo.age":{"a":[1,{"b":null}],"a":2}`, 1),
		strings.Replace(valid, `"demo.age":34`, `"demo.age":"<script>&"`, 1),
		valid + " \n",
		valid + " x",
		valid + valid,
		`{"submission_id":"nope","version":"1","site":3,"extra":true,"answers":{}}`,
		`{"answers":{"` + strings.Repeat("a", 100) + `":"` + strings.Repeat("b", 100) + `"}}`,
		`{"answers":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`,
		`{"submission_id":"{0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f}","questionnaire":"entry","version":1,"site":"haren","answers":{}}`,
		`null`, `[]`, `"x"`, `{}`, `{`, ``, "\xef\xbb\xbf{}", "{\"a\":\"\xff\"}",
		`{0:1}`,                               // an object key that is not a string
		strings.Replace(valid, `":`, `" `, 1), // a key without its colon
		strings.Replace(valid, `,"`, ` "`, 2), // members without commas
	} {
		f.Add([]byte(s))
	}
	cat := fzCatalog(f)
	codes := fzCodes(f, cat)
	vocab := fzEnvelopeVocabulary(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fzNoPanic(t, "DecodeEnvelope", data)
		env, errs := DecodeEnvelope(data)
		if (env == nil) == (errs == nil) {
			t.Fatalf("DecodeEnvelope(%q) = %v, %v; want exactly one of envelope and errors", data, env, errs)
		}
		vals := fzJSONValues(data)
		for _, e := range errs {
			if e.Code == "" || e.Message == "" || !fzFieldErrorCodes[e.Code] {
				t.Errorf("DecodeEnvelope(%q): error %+v, want a known code and a message", data, e)
			}
			if v, ok := fzQuoted(e.Message, vals, codes, vocab); ok {
				t.Errorf("DecodeEnvelope(%q): message %q of %s:%s quotes the input %q", data, e.Message, e.Item, e.Code, v)
			}
		}
		if env == nil {
			return
		}
		if !json.Valid(data) || !utf8.Valid(data) {
			t.Errorf("DecodeEnvelope(%q) accepted a body that is not JSON (in UTF-8, RFC 8259), want %s", data, ErrMalformed)
		}
		if env.Version < 1 || env.Questionnaire == "" || env.Site == "" || env.Answers == nil ||
			len(env.SubmissionID) != 36 || strings.ToLower(env.SubmissionID) != env.SubmissionID {
			t.Errorf("DecodeEnvelope(%q) = %+v, want a canonical id, a positive version, non-empty strings and answers", data, env)
		}
		body, err := json.Marshal(map[string]any{"submission_id": env.SubmissionID, "questionnaire": env.Questionnaire,
			"version": env.Version, "site": env.Site, "answers": env.Answers})
		if err != nil {
			t.Fatalf("DecodeEnvelope(%q) holds what encoding/json cannot re-encode: %v", data, err)
		}
		again, errs := DecodeEnvelope(body)
		if errs != nil {
			t.Fatalf("DecodeEnvelope(re-encoded %q) = %v, want the envelope of %q", body, errs, data)
		}
		if again.SubmissionID != env.SubmissionID || again.Questionnaire != env.Questionnaire ||
			again.Version != env.Version || again.Site != env.Site {
			t.Errorf("DecodeEnvelope(re-encoded) = %q %q %d %q, want %q %q %d %q (input %q)", again.SubmissionID,
				again.Questionnaire, again.Version, again.Site, env.SubmissionID, env.Questionnaire, env.Version, env.Site, data)
		}
		if got, want := slices.Sorted(maps.Keys(again.Answers)), slices.Sorted(maps.Keys(env.Answers)); !slices.Equal(got, want) {
			t.Fatalf("DecodeEnvelope(re-encoded).Answers keys = %q, want %q (input %q)", got, want, data)
		}
		for k, raw := range env.Answers {
			if !fzSameJSON(raw, again.Answers[k]) {
				t.Errorf("DecodeEnvelope(re-encoded).Answers[%q] = %s, want %s (input %q)", k, again.Answers[k], raw, data)
			}
		}
	})
}

// fzValidateBase is a starting questionnaire of FuzzValidate.
type fzValidateBase struct {
	id      string
	answers func() map[string]any
}

var fzValidateBases = []fzValidateBase{
	{"entry", entryAnswers},
	{"entry", refusalAnswers},
	{"followup", followupAnswers},
	{"followup", func() map[string]any { return map[string]any{"meta.consent": "0", "meta.followup_month": "2025-04"} }},
}

// fzValidateProbes are raw answers that take every error path of Validate, for the
// vocabulary of its messages. Values longer than 3 characters are listed in
// fzValidateProbeValues and must not be quoted.
var (
	fzValidateProbes = []string{`{}`, `null`, `true`, `"zz"`, `"zzqq"`, `"1234567"`, `"qq@zz"`, `["zz"]`, `["heroin","heroin"]`,
		`["other"]`, `["heroin"]`, `[]`, `-100000`, `100000`, `0`, `1000`, `1.5`, `99`, `18`, `"2015-1"`, `"1900-01"`, `"2999-12"`,
		`"8501011234"`}
	fzValidateProbeValues = []string{"zzqq", "1234567", "qq@zz", "100000", "1000", "2015-1", "1900-01", "2999-12", "8501011234"}
)

// fzValidateVocabulary returns the fixed wording of Validate's messages for the built-in
// questionnaires: every probe on every item of every base, every item left out, an
// unknown item, a national register number.
func fzValidateVocabulary(tb testing.TB, cat *Catalog) string {
	tb.Helper()
	var bodies [][]byte
	for _, b := range fzValidateBases {
		d, _ := cat.Latest(b.id)
		base := fzRawAnswers(tb, b.answers())
		for _, it := range d.Items {
			for _, p := range fzValidateProbes {
				a := maps.Clone(base)
				a[it.Code] = []byte(p)
				bodies = append(bodies, fzEnvelopeBody(b.id, d.Version, a))
			}
			a := maps.Clone(base)
			delete(a, it.Code)
			bodies = append(bodies, fzEnvelopeBody(b.id, d.Version, a))
		}
		a := maps.Clone(base)
		a["zzqq.zzqq"] = []byte(`"1"`)
		a["link.identifier"] = []byte(strconv.Quote(nationalNumber("850101", 123, false)))
		bodies = append(bodies, fzEnvelopeBody(b.id, d.Version, a))
	}
	return fzVocabulary(tb, bodies, fzValidateProbeValues, func(body []byte) []FieldError {
		env, errs := DecodeEnvelope(body)
		if errs != nil {
			tb.Fatalf("DecodeEnvelope(probe %s) = %v", body, errs)
		}
		d, _ := cat.Get(env.Questionnaire, env.Version)
		_, errs = Validate(d, env, testNow)
		return errs
	})
}

// FuzzValidate mutates one answer of a valid questionnaire, drops some and adds one, and
// checks that Validate never panics, that what it accepts follows the definition (checked
// again here, independently), that its messages never quote answers, and that
// Anonymise of an accepted submission keeps no exact age, country or identifier.
func FuzzValidate(f *testing.F) {
	cat := fzCatalog(f)
	item := func(base int, code string) uint8 {
		d, _ := cat.Latest(fzValidateBases[base].id)
		for i, it := range d.Items {
			if it.Code == code {
				return uint8(i)
			}
		}
		f.Fatalf("no item %s in %s", code, d.ID)
		return 0
	}
	seeds := []struct {
		base     int
		code     string
		raw      string
		del      uint64
		add, val string
	}{
		{0, "demo.age", `34`, 0, "", ""},
		{0, "demo.age", `17`, 0, "", ""},
		{0, "demo.age", `34.0`, 0, "", ""},
		{0, "demo.age", `3.4e1`, 0, "", ""},
		{0, "demo.age", `"34"`, 0, "", ""},
		{0, "demo.age", `1e600000000`, 0, "", ""},
		{0, "demo.age", `-0`, 0, "", ""},
		{0, "demo.age", `18`, 0, "", ""},
		{0, "demo.age", `99`, 0, "", ""},
		{0, "drug.main_age_first", `35`, 0, "", ""},
		{0, "demo.nationality", `"BE"`, 0, "", ""},
		{0, "demo.nationality", `"NR"`, 0, "", ""},
		{0, "demo.nationality", `"stateless"`, 0, "", ""},
		{0, "demo.nationality", `"8"`, 0, "", ""},
		{0, "demo.nationality", `"ma"`, 0, "", ""},
		{0, "demo.birth_country", `"AQ"`, 0, "", ""},
		{0, "link.identifier", `" ab 12.345"`, 0, "", ""},
		{0, "link.identifier", `"\u01f0\u01f0\u01f0"`, 0, "", ""},
		{0, "link.identifier", `"85010112345"`, 0, "", ""},
		{0, "link.identifier", `"cannabis"`, 0, "", ""},
		{0, "meta.entry_month", `"2025-13"`, 0, "", ""},
		{0, "meta.entry_month", `"2014-12"`, 0, "", ""},
		{0, "meta.entry_month", `"2025-07"`, 0, "", ""},
		{0, "meta.entry_month", `"2025-06"`, 0, "", ""},
		{0, "meta.entry_month", `"2025-03-01"`, 0, "", ""},
		{0, "meta.entry_month", `"\uff12025-03"`, 0, "", ""},
		{0, "drug.before_12m", `["heroin","other"]`, 0, "", ""},
		{0, "drug.before_30d", `[]`, 0, "", ""},
		{0, "drug.lifetime", `["cannabis","cannabis"]`, 0, "", ""},
		{0, "drug.lifetime", `null`, 0, "", ""},
		{0, "drug.lifetime_any", `"0"`, 0, "", ""},
		{0, "meta.consent", `"0"`, 0, "", ""},
		{0, "demo.gender", `"F"`, 1 << 3, "", ""},
		{0, "demo.gender", `"\u004d"`, 0, "favourite.colour", `"blue"`},
		{0, "residence.status", `"asylum"`, 0, "", ""},
		{1, "demo.age", `40`, 0, "", ""},
		{1, "meta.consent", `"1"`, 0, "", ""},
		{1, "meta.consent", `"8"`, 0, "", ""},
		{2, "demo.age", `97`, 0, "", ""},
		{2, "link.identifier", `"ZXQ-7788.41"`, 0, "", ""},
		{3, "meta.followup_month", `"2015-01"`, 0, "", ""},
	}
	for _, s := range seeds {
		f.Add(uint8(s.base), item(s.base, s.code), []byte(s.raw), s.del, s.add, []byte(s.val))
	}
	codes := fzCodes(f, cat)
	vocab := fzValidateVocabulary(f, cat)
	key, err := NewKey(testSecret)
	if err != nil {
		f.Fatal(err)
	}
	anon := &Anonymiser{Keys: &Keyring{Current: key}}
	f.Fuzz(func(t *testing.T, base, idx uint8, raw []byte, del uint64, add string, addRaw []byte) {
		b := fzValidateBases[int(base)%len(fzValidateBases)]
		d, _ := cat.Latest(b.id)
		answers := fzRawAnswers(t, b.answers())
		for i, k := range slices.Sorted(maps.Keys(answers)) {
			if del&(1<<(i%64)) != 0 {
				delete(answers, k)
			}
		}
		if len(raw) > 0 {
			answers[d.Items[int(idx)%len(d.Items)].Code] = raw
		}
		if add != "" {
			if len(addRaw) == 0 {
				addRaw = []byte(`"1"`)
			}
			answers[add] = addRaw
		}
		body := fzEnvelopeBody(b.id, d.Version, answers)
		defer fzNoPanic(t, "DecodeEnvelope, Validate or Anonymise", body)
		if !json.Valid(body) || !utf8.Valid(body) {
			return // a mutation broke the JSON: FuzzDecodeEnvelope's business, not Validate's
		}
		env, errs := DecodeEnvelope(body)
		if errs != nil {
			return
		}
		if env.Questionnaire != d.ID || env.Version != d.Version {
			return
		}
		sub, errs := Validate(d, env, testNow)
		if (sub == nil) == (errs == nil) {
			t.Fatalf("Validate(%s) = %v, %v; want exactly one of submission and errors", body, sub, errs)
		}
		var vals []string
		for k, raw := range env.Answers {
			vals = append(vals, k)
			vals = append(vals, fzJSONValues(raw)...)
		}
		for _, e := range errs {
			if e.Item == "" || e.Message == "" || !fzFieldErrorCodes[e.Code] {
				t.Errorf("Validate(%s): error %+v, want an item, a known code and a message", body, e)
			}
			if v, ok := fzQuoted(e.Message, vals, codes, vocab); ok {
				t.Errorf("Validate(%s): message %q of %s:%s quotes the answer %q", body, e.Message, e.Item, e.Code, v)
			}
		}
		if sub == nil {
			return
		}
		fzCheckAccepted(t, d, env, sub)
		fzCheckAnonymised(t, anon, d, sub)
	})
}

// fzString decodes a raw answer that is a JSON string.
func fzString(raw []byte) (string, bool) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// fzApplies reports whether all conditions of it hold for the raw answers: each names an
// answered item that itself applies and whose code is listed.
func fzApplies(d *Definition, it *Item, answers map[string]json.RawMessage) bool {
	for _, c := range it.When {
		raw, ok := answers[c.Item]
		if !ok {
			return false
		}
		s, ok := fzString(raw)
		if !ok || !slices.Contains(c.In, s) || !fzApplies(d, d.Item(c.Item), answers) {
			return false
		}
	}
	return true
}

func fzChoiceCodes(it *Item) []string {
	var out []string
	for _, c := range it.Choices {
		out = append(out, c.Code)
	}
	return out
}

var fzMonth = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// fzCheckAccepted checks again, from the raw answers, every rule an accepted submission
// must follow.
func fzCheckAccepted(t *testing.T, d *Definition, env *Envelope, sub *Submission) {
	t.Helper()
	if len(sub.Answers) != len(env.Answers) {
		t.Errorf("Validate accepted %d answers and kept %d: %v", len(env.Answers), len(sub.Answers), slices.Sorted(maps.Keys(env.Answers)))
	}
	thisMonth := testNow.In(brussels).Format("2006-01")
	for code, raw := range env.Answers {
		it := d.Item(code)
		if it == nil {
			t.Errorf("Validate accepted %s, which is not an item of %s", code, d.ID)
			continue
		}
		got, ok := sub.Answers[code]
		if !ok {
			t.Errorf("Validate accepted %s = %s but dropped it", code, raw)
		}
		if !fzApplies(d, it, env.Answers) {
			t.Errorf("Validate accepted %s = %s, which does not apply (when %v)", code, raw, it.When)
		}
		switch it.Type {
		case TypeChoice:
			s, ok := fzString(raw)
			if !ok || !slices.Contains(fzChoiceCodes(it), s) || got.Code != s {
				t.Errorf("Validate accepted choice %s = %s (kept %q), want a code of %v", code, raw, got.Code, fzChoiceCodes(it))
			}
		case TypeMulti:
			var list []string
			trimmed := bytes.TrimSpace(raw)
			if len(trimmed) == 0 || trimmed[0] != '[' || json.Unmarshal(raw, &list) != nil {
				t.Errorf("Validate accepted multi %s = %s, want an array of strings", code, raw)
				continue
			}
			seen := map[string]bool{}
			for _, c := range list {
				if !slices.Contains(fzChoiceCodes(it), c) || seen[c] {
					t.Errorf("Validate accepted multi %s = %s, want distinct codes of %v", code, raw, fzChoiceCodes(it))
				}
				seen[c] = true
			}
			if !slices.Equal(got.Codes, list) {
				t.Errorf("Validate kept multi %s = %q, want %q", code, got.Codes, list)
			}
		case TypeInteger:
			trimmed := bytes.TrimSpace(raw)
			var n float64
			err := json.Unmarshal(raw, &n)
			if len(trimmed) == 0 || trimmed[0] == '"' || err != nil || n != math.Trunc(n) ||
				n < float64(*it.Min) || n > float64(*it.Max) || float64(got.Int) != n {
				t.Errorf("Validate accepted integer %s = %s (kept %d), want a whole number in [%d, %d]", code, raw, got.Int, *it.Min, *it.Max)
			}
		case TypeMonth:
			s, ok := fzString(raw)
			if !ok || !fzMonth.MatchString(s) || s < it.MinMonth || it.NotFuture && s > thisMonth || got.Text != s {
				t.Errorf("Validate accepted month %s = %s (kept %q), want YYYY-MM from %q, not after %s", code, raw, got.Text, it.MinMonth, thisMonth)
			}
		case TypeIdentifier:
			s, ok := fzString(raw)
			n := utf8.RuneCountInString(NormaliseIdentifier(s))
			if !ok || n < 3 || n > 64 || utf8.ValidString(got.Text) && got.Text != s {
				t.Errorf("Validate accepted identifier %s = %s (kept %q), want a string of 3 to 64 letters or digits", code, raw, got.Text)
			}
		}
	}
	for _, it := range d.Items {
		a, answered := sub.Answers[it.Code]
		if it.Required && !answered && fzApplies(d, it, env.Answers) {
			t.Errorf("Validate accepted a submission without %s, which is required and applies", it.Code)
		}
		if !answered {
			continue
		}
		if it.SubsetOf != "" {
			outer := sub.Answers[it.SubsetOf].Codes
			for _, c := range a.Codes {
				if !slices.Contains(outer, c) {
					t.Errorf("Validate accepted %s = %q, not a subset of %s = %q", it.Code, a.Codes, it.SubsetOf, outer)
				}
			}
		}
		if it.MaxItem != "" {
			if bound, ok := sub.Answers[it.MaxItem]; ok && a.Int > bound.Int {
				t.Errorf("Validate accepted %s = %d above %s = %d", it.Code, a.Int, it.MaxItem, bound.Int)
			}
		}
	}
	if want := sub.Answers[ConsentItem].Code == "1"; sub.Consent != want {
		t.Errorf("Validate: Consent = %v with %s = %q", sub.Consent, ConsentItem, sub.Answers[ConsentItem].Code)
	}
}

// fzSameGroupCountry returns another country of code's nationality group, if there is one.
func fzSameGroupCountry(code string) (string, bool) {
	group, ok := NationalityGroup(code)
	if !ok {
		return "", false
	}
	for _, c := range countryChoices() {
		if c.Code != code && c.Group == group {
			return c.Code, true
		}
	}
	return "", false
}

// fzCheckAnonymised anonymises sub and checks that the record holds the coarse values
// only, and that it does not change when the exact age, countries and identifier change
// within their coarse values: the record carries nothing of the exact values.
func fzCheckAnonymised(t *testing.T, anon *Anonymiser, d *Definition, sub *Submission) {
	t.Helper()
	rec, err := anon.Anonymise(sub, testNow)
	if err != nil {
		t.Fatalf("Anonymise(accepted submission) error: %v", err)
	}
	storedOf := func(r Record, item string) []string {
		var out []string
		for _, a := range r.Answers {
			if a.Item == item {
				out = append(out, a.Value)
			}
		}
		return out
	}
	other := *sub
	other.Answers = maps.Clone(sub.Answers)
	changedIdentifier := false
	for _, it := range d.Items {
		a, ok := sub.Answers[it.Code]
		if !ok {
			continue
		}
		got := storedOf(rec, it.Code)
		switch it.Store {
		case StoreAgeBand:
			if want := []string{AgeBand(a.Int)}; !slices.Equal(got, want) || slices.Contains(got, strconv.Itoa(a.Int)) {
				t.Errorf("Anonymise: %s = %d stored as %q, want %q", it.Code, a.Int, got, want)
			}
			lo := a.Int
			for lo > *it.Min && AgeBand(lo-1) == AgeBand(a.Int) {
				lo--
			}
			alt := lo
			if alt == a.Int {
				alt++
			}
			if AgeBand(alt) == AgeBand(a.Int) && alt <= *it.Max {
				other.Answers[it.Code] = Value{Int: alt}
			}
		case StoreCountryGroup:
			if isMissingCode(a.Code) {
				if !slices.Equal(got, []string{a.Code}) {
					t.Errorf("Anonymise: %s = %q stored as %q, want it kept", it.Code, a.Code, got)
				}
				continue
			}
			group, _ := NationalityGroup(a.Code)
			// Belgium is a group of its own: its group code is the country code, and
			// stores nothing more than the group.
			if !slices.Equal(got, []string{group}) || a.Code != group && slices.Contains(got, a.Code) {
				t.Errorf("Anonymise: %s = %q stored as %q, want the group %q", it.Code, a.Code, got, group)
			}
			if alt, ok := fzSameGroupCountry(a.Code); ok {
				other.Answers[it.Code] = Value{Code: alt}
			}
		case StoreLinkKey:
			if got != nil {
				t.Errorf("Anonymise: identifier %s stored as %q, want nothing", it.Code, got)
			}
			if want := anon.Keys.Current.LinkID(a.Text); rec.LinkID != want {
				t.Errorf("Anonymise: LinkID = %s, want LinkID(identifier) = %s", rec.LinkID, want)
			}
			alt := "QX9"
			if NormaliseIdentifier(a.Text) == alt {
				alt = "QX8"
			}
			other.Answers[it.Code] = Value{Text: alt}
			changedIdentifier = true
		}
	}
	for _, s := range []string{rec.Gender, rec.AgeBand, rec.NationalityGroup} {
		if a, ok := sub.Answers[AgeItem]; ok && s == strconv.Itoa(a.Int) {
			t.Errorf("Anonymise: record field %q is the exact age", s)
		}
	}
	if rec.AgeBand != "" && !slices.Contains(AgeBands, rec.AgeBand) {
		t.Errorf("Anonymise: AgeBand = %q, want one of %v", rec.AgeBand, AgeBands)
	}
	again, err := anon.Anonymise(&other, testNow)
	if err != nil {
		t.Fatalf("Anonymise(same submission, other exact values) error: %v", err)
	}
	if changedIdentifier {
		if again.LinkID == rec.LinkID {
			t.Errorf("Anonymise: identifiers %q and %q have the same LinkID", sub.Answers["link.identifier"].Text, other.Answers["link.identifier"].Text)
		}
		again.LinkID, again.Fingerprint = rec.LinkID, rec.Fingerprint // the link is stored content
	}
	if !reflect.DeepEqual(again, rec) {
		t.Errorf("Anonymise depends on exact values beyond their coarse ones:\n exact %+v\n other %+v", rec, again)
	}
}

// FuzzDecodeBatch: any bytes never panic; decodeBatch accepts exactly the objects whose
// only key is "submissions", holding an array of at most MaxBatchSize items (checked with
// encoding/json), and returns those items.
func FuzzDecodeBatch(f *testing.F) {
	one := string(fzEnvelopeBody("entry", 1, fzRawAnswers(f, refusalAnswers())))
	for _, s := range []string{
		`{"submissions":[` + one + `,` + one + `]}`,
		`{"submissions":[]}`,
		` {"submissions" : [ 1 , "x" , null , {} ] } `,
		`{"submissions":null}`,
		`{"submissions":{}}`,
		`{"submissions":"[]"}`,
		`{"submissions":[],"submissions":[]}`,
		`{"submissions":[],"extra":1}`,
		`{"submission\u0073":[1]}`,
		`{"Submissions":[1]}`,
		`{"submissions":[1]} x`,
		`{"submissions":[1]}{}`,
		`{"submissions":[1,]}`,
		`[{"submissions":[]}]`,
		`{"submissions":[` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `]}`,
		`{"submissions":["\ud800\xff"]}`,
		`{}`, ``, `null`, `{`,
		`{0:[]}`,              // an object key that is not a string
		`{"submissions" []}`,  // no colon
		`{,"submissions":[]}`, // a stray comma
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fzNoPanic(t, "decodeBatch", data)
		items, err := decodeBatch(data)
		want, ok := fzBatchOracle(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalid || len(e.Fields) != 1 || e.Fields[0].Item != "submissions" ||
				e.Fields[0].Message == "" || !slices.Contains([]string{ErrMalformed, ErrWrongType, ErrTooMany}, e.Fields[0].Code) {
				t.Fatalf("decodeBatch(%q) error = %#v, want invalid with one submissions field error", data, err)
			}
			if ok && len(want) <= MaxBatchSize {
				t.Fatalf("decodeBatch(%q) = %v, want the %d submissions of a valid batch", data, e.Fields, len(want))
			}
			if ok && e.Fields[0].Code != ErrTooMany {
				t.Errorf("decodeBatch(%d submissions) = %s, want %s", len(want), e.Fields[0].Code, ErrTooMany)
			}
			return
		}
		if !ok {
			t.Fatalf("decodeBatch(%q) accepted %d submissions, want a refusal: not {\"submissions\":[…]}", data, len(items))
		}
		if len(items) > MaxBatchSize || len(items) != len(want) {
			t.Fatalf("decodeBatch(%q) = %d submissions, want %d (at most %d)", data, len(items), len(want), MaxBatchSize)
		}
		for i := range items {
			if !fzSameJSON(items[i], want[i]) {
				t.Errorf("decodeBatch(%q)[%d] = %s, want %s", data, i, items[i], want[i])
			}
		}
	})
}

// fzBatchOracle decodes a batch with encoding/json: an object with one key "submissions",
// given once, holding an array, and nothing after it, all in valid UTF-8 (which
// encoding/json alone does not check, and tamtam requires).
func fzBatchOracle(data []byte) ([]json.RawMessage, bool) {
	if !utf8.Valid(data) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var raw json.RawMessage
	keys := 0
	for dec.More() {
		key, err := dec.Token()
		if err != nil || key != "submissions" {
			return nil, false
		}
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		keys++
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') || keys != 1 {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	var items []json.RawMessage
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	return items, true
}

var fzLinkKey = sync.OnceValue(func() *Key {
	k, err := NewKey(testSecret)
	if err != nil {
		panic(err)
	}
	return k
})

// FuzzNormaliseIdentifier checks PRIVACY.md R3's normalisation on any string: it never
// panics, is idempotent, leaves no space, dot, dash or combining mark and no lower-case
// ASCII letter, and an identifier links with its normal form.
func FuzzNormaliseIdentifier(f *testing.F) {
	for _, s := range []string{
		"AB-12.345", " ab 12345", "ab\t12\u00a0345\n", "AB\u201012\u2011345", "Élodie-7", "E\u0301lodie-7",
		"çàïñ-øß", "İstanbul.1", "team_42/x", "", "ab\u2212cd", "a\u2e3ab\ufe58c", "\u3000x\u2028y\u200bz",
		"ﬀ-ﬁ", "ŉ", "Ǆǅǆ", "\xff\xfe", "a\u0301\u0302\u0303", "\u1e9e", "ᾳ", "x\u0345",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		defer fzNoPanic(t, "NormaliseIdentifier", []byte(s))
		n := NormaliseIdentifier(s)
		if again := NormaliseIdentifier(n); again != n {
			t.Errorf("NormaliseIdentifier(%q) = %q, and again %q: want idempotent", s, n, again)
		}
		for _, r := range n {
			if unicode.IsSpace(r) || r == '.' || unicode.Is(unicode.Pd, r) || r == '\u2212' || unicode.Is(unicode.Mn, r) {
				t.Errorf("NormaliseIdentifier(%q) = %q holds %U, want no spaces, dots, dashes or diacritics", s, n, r)
			}
			if r < utf8.RuneSelf && string(r) != strings.ToUpper(string(r)) {
				t.Errorf("NormaliseIdentifier(%q) = %q holds lower-case %q", s, n, r)
			}
		}
		if k := fzLinkKey(); k.LinkID(s) != k.LinkID(n) {
			t.Errorf("LinkID(%q) != LinkID(NormaliseIdentifier(%q) = %q)", s, s, n)
		}
	})
}
