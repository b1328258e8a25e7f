package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	mathrand "math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// testNow is the clock of every validation test: months after June 2025 are in the future.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// testSubmissionID is a valid lower-case UUID used by the helper bodies.
const testSubmissionID = "0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"

// builtinDefinition returns the latest built-in definition of questionnaire id.
func builtinDefinition(t *testing.T, id string) *Definition {
	t.Helper()
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatalf("BuiltinCatalog() error: %v", err)
	}
	d, ok := c.Latest(id)
	if !ok {
		t.Fatalf("BuiltinCatalog().Latest(%q) not found", id)
	}
	return d
}

// entryAnswers is a complete, consistent entry questionnaire: a 34-year-old Moroccan man
// without a residence permit who uses cocaine and cannabis, with a previous imprisonment.
func entryAnswers() map[string]any {
	return map[string]any{
		"meta.consent":             "1",
		"meta.entry_month":         "2025-03",
		"meta.interview_lang":      "ar",
		"meta.already_answered":    "0",
		"demo.gender":              "M",
		"demo.age":                 34,
		"demo.nationality":         "MA",
		"demo.birth_country":       "MA",
		"demo.legal_status":        "remand",
		"demo.prev_incarcerations": "2-4",
		"demo.housing_before":      "unstable",
		"demo.labour_before":       "unemployed",
		"drug.lifetime_any":        "1",
		"drug.lifetime":            []string{"cannabis", "cocaine", "heroin"},
		"drug.before_12m":          []string{"cannabis", "cocaine"},
		"drug.before_30d":          []string{"cocaine"},
		"drug.main":                "cocaine",
		"drug.main_route":          "2",
		"drug.main_freq30":         "1",
		"drug.main_age_first":      16,
		"inject.status":            "3",
		"inject.share_needle_12m":  "0",
		"overdose.before_12m":      "0",
		"prev_prison.drug_use":     "1",
		"prev_prison.first_use":    "0",
		"prev_prison.injected":     "0",
		"ost.status":               "3",
		"ost.continued_at_entry":   "1",
		"treat.ever":               "1",
		"test.hiv_last":            "gt12m",
		"test.hcv_last":            "never",
		"health.self_rated":        "3",
		"mh.psy_treatment_ever":    "0",
		"support.wants_help":       "1",
		"lang.fr_nl_sufficient":    "0",
		"interp.needed":            "1",
		"interp.at_intake":         "staff_or_codetainee",
		"insurance.before":         "amu_cpas",
		"residence.status":         "no_permit",
		"gp.before":                "0",
		"release.stay_in_be":       "9",
	}
}

// followupAnswers is a complete follow-up of the same person a month later.
func followupAnswers() map[string]any {
	return map[string]any{
		"meta.consent":              "1",
		"meta.followup_month":       "2025-04",
		"meta.time_since_entry":     "1-3m",
		"demo.gender":               "M",
		"demo.age":                  34,
		"demo.nationality":          "MA",
		"drug.in_prison_any":        "1",
		"drug.in_prison":            []string{"cannabis"},
		"drug.first_use_in_prison":  "0",
		"inject.in_prison":          "0",
		"ost.in_prison":             "continued",
		"care.seen_doctor":          "1",
		"care.interpreter_provided": "no",
		"care.release_plan":         "0",
	}
}

// refusalAnswers is what an intake worker records when someone declines.
func refusalAnswers() map[string]any {
	return map[string]any{"meta.consent": "0", "meta.entry_month": "2025-03"}
}

// submissionBody returns the JSON body of a submission of questionnaire id version 1.
func submissionBody(t *testing.T, id, site string, answers map[string]any) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"submission_id": testSubmissionID,
		"questionnaire": id,
		"version":       1,
		"site":          site,
		"answers":       answers,
	})
	if err != nil {
		t.Fatalf("json.Marshal(submission) error: %v", err)
	}
	return body
}

// decodeBody decodes body, failing the test on any envelope error.
func decodeBody(t *testing.T, body []byte) *Envelope {
	t.Helper()
	env, errs := DecodeEnvelope(body)
	if errs != nil {
		t.Fatalf("DecodeEnvelope(%s) = %v, want no errors", body, errs)
	}
	return env
}

// validateAnswers runs answers through DecodeEnvelope and Validate against d at testNow.
func validateAnswers(t *testing.T, d *Definition, answers map[string]any) (*Submission, []FieldError) {
	t.Helper()
	return Validate(d, decodeBody(t, submissionBody(t, d.ID, "haren", answers)), testNow)
}

// mustValidate validates answers and fails the test on any field error.
func mustValidate(t *testing.T, d *Definition, answers map[string]any) *Submission {
	t.Helper()
	s, errs := validateAnswers(t, d, answers)
	if errs != nil {
		t.Fatalf("Validate(%s) = %v, want no errors", d.ID, errs)
	}
	return s
}

// errorPairs returns "item:code" for each error, sorted, so tests compare what was
// reported and not the order it was found in.
func errorPairs(errs []FieldError) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Item+":"+e.Code)
	}
	slices.Sort(out)
	return out
}

func wantPairs(pairs ...string) []string {
	out := slices.Clone(pairs)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// withAnswers returns a copy of base with set applied and del removed.
func withAnswers(base map[string]any, set map[string]any, del ...string) map[string]any {
	out := maps.Clone(base)
	for _, k := range del {
		delete(out, k)
	}
	maps.Copy(out, set)
	return out
}

// dependentsOf lists the items of d whose conditions test code.
func dependentsOf(d *Definition, code string) []string {
	var out []string
	for _, it := range d.Items {
		for _, c := range it.When {
			if c.Item == code {
				out = append(out, it.Code)
			}
		}
	}
	return out
}

// quotedValues returns the textual forms of answers that an error message must never
// contain: the JSON text of each value and, for strings, the normalised identifier form.
func quotedValues(answers map[string]any) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 2 {
			out = append(out, s)
		}
	}
	for _, v := range answers {
		switch v := v.(type) {
		case string:
			add(v)
			add(NormaliseIdentifier(v))
		case []string:
			for _, s := range v {
				add(s)
			}
		case json.RawMessage:
			add(strings.Trim(string(v), `"`))
		default:
			add(fmt.Sprint(v))
		}
	}
	return out
}

// changedAnswers returns the answers of got that are not in base with the same value: the
// values a test case put in on purpose.
func changedAnswers(base, got map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range got {
		if b, ok := base[k]; !ok || fmt.Sprint(b) != fmt.Sprint(v) {
			out[k] = v
		}
	}
	return out
}

// nationalNumber returns a Belgian national register number with a correct check digit:
// YYMMDD, a 3-digit serial, and 97 minus the first nine digits modulo 97 (with a 2
// prefixed for people born from 2000).
func nationalNumber(yymmdd string, serial int, from2000 bool) string {
	first := fmt.Sprintf("%s%03d", yymmdd, serial)
	n, _ := strconv.ParseInt(first, 10, 64)
	if from2000 {
		n += 2_000_000_000
	}
	return fmt.Sprintf("%s%02d", first, 97-n%97)
}

func TestHoldsRegisterNumber(t *testing.T) {
	// 85.01.01-123.xx: 850101123 mod 97 = 10, so the check is 87.
	if got, want := nationalNumber("850101", 123, false), "85010112387"; got != want {
		t.Fatalf("nationalNumber(850101, 123) = %s, want %s", got, want)
	}
	tests := []struct {
		in   string
		want bool
	}{
		// Refused: 11 digits in a row, whatever separates them, whatever the check.
		{"85010112387", true},
		{nationalNumber("030405", 7, true), true},
		{"85010112388", true}, // a wrong check digit is still a register number mistyped
		{"850101123870", true},
		{"RN85073003328", true},
		{"rn 85073003328", true},
		{"85.07.30-033.28", true},
		{"85 07 30 033 28", true},
		{"85/07/30/033/28", true},
		{"85\u00a007\u00a030\u2013033\u201228", true}, // no-break spaces, en dash, figure dash
		{"85.07.30 - 033.28", true},                   // several separators in a row
		{"NN 85.07.30-033.28 bis", true},
		{"\uff18\uff15\uff10\uff17\uff13\uff10\uff10\uff13\uff13\uff12\uff18", true}, // full-width digits
		{"8\u03015073003328", true}, // a combining mark, dropped by normalisation
		{"85_07_30_033_28", true},   // underscores
		{"85,07,30,033,28", true},   // commas
		// Accepted: fewer than 11 digits in any run.
		{"8501011238", false},
		{"AB010112387", false},
		{"AB-12.345", false},
		{"ZXQ-7788.41", false},
		{"DEMO-123456", false},
		{"12345 ABC 678901", false}, // a letter ends a run: 5 and 6 digits
		{"85.07.30-033", false},
		{"H-2025/0417-12", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := holdsRegisterNumber(tt.in); got != tt.want {
			t.Errorf("holdsRegisterNumber(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeEnvelope(t *testing.T) {
	const valid = `{"submission_id":"0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f","questionnaire":"entry","version":1,"site":"haren","answers":{"meta.consent":"1","demo.age":34,"drug.before_12m":["cannabis"]}}`
	env, errs := DecodeEnvelope([]byte(valid))
	if errs != nil {
		t.Fatalf("DecodeEnvelope(valid) = %v, want no errors", errs)
	}
	if env.SubmissionID != testSubmissionID || env.Questionnaire != "entry" || env.Version != 1 || env.Site != "haren" {
		t.Errorf("DecodeEnvelope(valid) = %+v, want the envelope fields of the body", env)
	}
	if got, want := slices.Sorted(maps.Keys(env.Answers)), []string{"demo.age", "drug.before_12m", "meta.consent"}; !slices.Equal(got, want) {
		t.Errorf("DecodeEnvelope(valid).Answers keys = %v, want %v", got, want)
	}
	if got, want := string(env.Answers["demo.age"]), "34"; got != want {
		t.Errorf("DecodeEnvelope(valid).Answers[demo.age] = %s, want %s", got, want)
	}

	t.Run("uppercase UUID is normalised", func(t *testing.T) {
		body := strings.Replace(valid, testSubmissionID, strings.ToUpper(testSubmissionID), 1)
		env, errs := DecodeEnvelope([]byte(body))
		if errs != nil {
			t.Fatalf("DecodeEnvelope(upper-case id) = %v, want no errors", errs)
		}
		if env.SubmissionID != testSubmissionID {
			t.Errorf("DecodeEnvelope(upper-case id).SubmissionID = %s, want %s", env.SubmissionID, testSubmissionID)
		}
	})

	// field returns the valid body with the envelope field name's JSON replaced by value
	// ("" drops the field).
	field := func(name, value string) string {
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal([]byte(valid), &m); err != nil {
			t.Fatal(err)
		}
		if value == "" {
			delete(m, name)
		} else {
			m[name] = json.RawMessage(value)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	tests := []struct {
		name string
		body string
		want []string
	}{
		{"unknown envelope key", strings.Replace(valid, `"site"`, `"name":"Jean","site"`, 1), wantPairs("name:unknown_field")},
		{"unknown envelope key answer-like", strings.Replace(valid, `"site"`, `"demo.age":34,"site"`, 1), wantPairs("demo.age:unknown_field")},
		{"duplicate envelope key", strings.Replace(valid, `"site":"haren"`, `"site":"haren","site":"mons"`, 1), wantPairs("site:duplicate_key")},
		{"duplicate answer key", strings.Replace(valid, `"demo.age":34`, `"demo.age":34,"demo.age":35`, 1), wantPairs("demo.age:duplicate_key")},
		{"missing submission_id", field("submission_id", ""), wantPairs("submission_id:missing_field")},
		{"missing questionnaire", field("questionnaire", ""), wantPairs("questionnaire:missing_field")},
		{"missing version", field("version", ""), wantPairs("version:missing_field")},
		{"missing site", field("site", ""), wantPairs("site:missing_field")},
		{"missing answers", field("answers", ""), wantPairs("answers:missing_field")},
		{"version as string", field("version", `"1"`), wantPairs("version:wrong_type")},
		{"version as float", field("version", `1.5`), wantPairs("version:wrong_type")},
		{"version as 1.0", field("version", `1.0`), wantPairs("version:wrong_type")},
		{"version 0", field("version", `0`), wantPairs("version:wrong_type")},
		{"version negative", field("version", `-1`), wantPairs("version:wrong_type")},
		{"version null", field("version", `null`), wantPairs("version:wrong_type")},
		{"site as number", field("site", `12`), wantPairs("site:wrong_type")},
		{"site empty", field("site", `""`), wantPairs("site:wrong_type")},
		{"questionnaire as array", field("questionnaire", `["entry"]`), wantPairs("questionnaire:wrong_type")},
		{"submission_id as number", field("submission_id", `42`), wantPairs("submission_id:wrong_type")},
		{"answers as array", field("answers", `[]`), wantPairs("answers:wrong_type")},
		{"answers as string", field("answers", `"meta.consent=1"`), wantPairs("answers:wrong_type")},
		{"answers null", field("answers", `null`), wantPairs("answers:wrong_type")},
		{"submission_id not a UUID", field("submission_id", `"submission-1"`), wantPairs("submission_id:invalid_id")},
		{"submission_id without hyphens", field("submission_id", `"0b8f6c1e3c2a4d5e9f101a2b3c4d5e6f"`), wantPairs("submission_id:invalid_id")},
		{"submission_id in braces", field("submission_id", `"{0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f}"`), wantPairs("submission_id:invalid_id")},
		{"submission_id urn", field("submission_id", `"urn:uuid:0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"`), wantPairs("submission_id:invalid_id")},
		{"trailing data", valid + ` x`, wantPairs(":malformed")},
		{"two objects", valid + valid, wantPairs(":malformed")},
		{"array of objects", `[` + valid + `]`, wantPairs(":malformed")},
		{"string", `"hello"`, wantPairs(":malformed")},
		{"null", `null`, wantPairs(":malformed")},
		{"empty body", ``, wantPairs(":malformed")},
		{"truncated", valid[:len(valid)-5], wantPairs(":malformed")},
		{"every problem at once", `{"submission_id":"nope","version":"1","site":3,"extra":true,"answers":{}}`,
			wantPairs("submission_id:invalid_id", "version:wrong_type", "site:wrong_type", "extra:unknown_field", "questionnaire:missing_field")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, errs := DecodeEnvelope([]byte(tt.body))
			if got := errorPairs(errs); !slices.Equal(got, tt.want) {
				t.Errorf("DecodeEnvelope(%s) = %v, want %v", tt.body, got, tt.want)
			}
			if env != nil {
				t.Errorf("DecodeEnvelope(%s) returned an envelope with errors", tt.body)
			}
			for _, e := range errs {
				if e.Message == "" {
					t.Errorf("DecodeEnvelope(%s): error %s:%s has no message", tt.body, e.Item, e.Code)
				}
				if strings.Contains(e.Message, "Jean") || strings.Contains(e.Message, "nope") {
					t.Errorf("DecodeEnvelope(%s): message %q quotes the body", tt.body, e.Message)
				}
			}
		})
	}

	t.Run("trailing whitespace is fine", func(t *testing.T) {
		if _, errs := DecodeEnvelope([]byte(valid + " \n\t")); errs != nil {
			t.Errorf("DecodeEnvelope(valid + whitespace) = %v, want no errors", errs)
		}
	})

	t.Run("Envelope.LogValue hides answers", func(t *testing.T) {
		env := decodeBody(t, []byte(valid))
		s := env.LogValue().String()
		if strings.Contains(s, "34") || strings.Contains(s, "cannabis") {
			t.Errorf("Envelope.LogValue() = %s, want no answers", s)
		}
	})
}

// TestDecodeEnvelopeDuplicateKeyWithOtherErrors checks that a duplicate key does not hide
// the other problems of the body (DESIGN.md §3: "listing every problem at once").
func TestDecodeEnvelopeDuplicateKeyWithOtherErrors(t *testing.T) {
	body := `{"submission_id":"nope","questionnaire":"entry","questionnaire":"entry","version":1,"site":"haren","answers":{}}`
	_, errs := DecodeEnvelope([]byte(body))
	got := errorPairs(errs)
	want := wantPairs("questionnaire:duplicate_key", "submission_id:invalid_id")
	if !slices.Equal(got, want) {
		t.Errorf("DecodeEnvelope(%s) = %v, want %v", body, got, want)
	}
}

func TestValidate(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	full := entryAnswers()
	// noDrugs is the full entry of someone who never used an illicit drug.
	noDrugs := withAnswers(full, map[string]any{"drug.lifetime_any": "0"}, dependentsOf(entry, "drug.lifetime_any")...)
	// noPrison is the full entry of someone never imprisoned before.
	noPrison := withAnswers(full, map[string]any{"demo.prev_incarcerations": "0"},
		"prev_prison.drug_use", "prev_prison.first_use", "prev_prison.injected")
	nn := nationalNumber("850101", 123, false)

	tests := []struct {
		name    string
		answers map[string]any
		want    []string
	}{
		// Accepted.
		{"full entry", full, wantPairs()},
		{"refusal", refusalAnswers(), wantPairs()},
		{"gender refused (8)", withAnswers(full, map[string]any{"demo.gender": "8"}), wantPairs()},
		{"gender don't know (9)", withAnswers(full, map[string]any{"demo.gender": "9"}), wantPairs()},
		{"nationality unknown", withAnswers(full, map[string]any{"demo.nationality": "unknown", "demo.birth_country": "stateless"}), wantPairs()},
		{"age 34.0", withAnswers(full, map[string]any{"demo.age": json.RawMessage(`34.0`)}), wantPairs()},
		{"age bounds 18", withAnswers(full, map[string]any{"demo.age": 18}), wantPairs()},
		{"age bounds 99", withAnswers(full, map[string]any{"demo.age": 99}), wantPairs()},
		{"age of first use equal to age", withAnswers(full, map[string]any{"drug.main_age_first": 34}), wantPairs()},
		{"empty multi arrays", withAnswers(full, map[string]any{"drug.lifetime": []string{}, "drug.before_12m": []string{}, "drug.before_30d": []string{}}), wantPairs()},
		{"multi codes in any order", withAnswers(full, map[string]any{"drug.lifetime": []string{"heroin", "cannabis", "cocaine"}, "drug.before_12m": []string{"cocaine", "cannabis"}}), wantPairs()},
		{"optional items left out", withAnswers(full, nil, "meta.interview_lang", "demo.birth_country", "drug.lifetime", "drug.before_12m", "drug.before_30d", "inject.status", "inject.share_needle_12m", "residence.status"), wantPairs()},
		{"no drugs", noDrugs, wantPairs()},
		{"no previous prison", noPrison, wantPairs()},
		{"month this month", withAnswers(full, map[string]any{"meta.entry_month": "2025-06"}), wantPairs()},
		{"month 2015-01", withAnswers(full, map[string]any{"meta.entry_month": "2015-01"}), wantPairs()},
		{"link identifier", withAnswers(full, map[string]any{"link.identifier": "AB-12.345"}), wantPairs()},
		{"link identifier of 10 digits in groups", withAnswers(full, map[string]any{"link.identifier": "85.07.30-033.2"}), wantPairs()},
		{"link identifier of two short numbers", withAnswers(full, map[string]any{"link.identifier": "H 2025/0417 B 123456"}), wantPairs()},

		// unknown_item
		{"unknown item", withAnswers(full, map[string]any{"demo.name": "x"}), wantPairs("demo.name:unknown_item")},
		{"unknown item followup-only", withAnswers(full, map[string]any{"care.seen_doctor": "1"}), wantPairs("care.seen_doctor:unknown_item")},

		// wrong_type
		{"choice given a number", withAnswers(full, map[string]any{"demo.gender": 1}), wantPairs("demo.gender:wrong_type")},
		{"choice given an array", withAnswers(full, map[string]any{"demo.gender": []string{"M"}}), wantPairs("demo.gender:wrong_type")},
		{"choice given null", withAnswers(full, map[string]any{"demo.legal_status": nil}), wantPairs("demo.legal_status:wrong_type")},
		{"multi given a string", withAnswers(full, map[string]any{"drug.before_30d": "cocaine"}), wantPairs("drug.before_30d:wrong_type")},
		{"multi given numbers", withAnswers(full, map[string]any{"drug.before_30d": []int{1}}), wantPairs("drug.before_30d:wrong_type")},
		{"integer given a string", withAnswers(full, map[string]any{"demo.age": "34"}), wantPairs("demo.age:wrong_type")},
		{"integer given 34.5", withAnswers(full, map[string]any{"demo.age": 34.5}), wantPairs("demo.age:wrong_type")},
		{"integer given true", withAnswers(full, map[string]any{"demo.age": true}), wantPairs("demo.age:wrong_type")},
		{"month given a number", withAnswers(full, map[string]any{"meta.entry_month": 202503}), wantPairs("meta.entry_month:wrong_type")},
		{"identifier given a number", withAnswers(full, map[string]any{"link.identifier": 12345}), wantPairs("link.identifier:wrong_type")},

		// invalid_choice
		{"invalid choice", withAnswers(full, map[string]any{"demo.gender": "male"}), wantPairs("demo.gender:invalid_choice")},
		{"invalid country", withAnswers(full, map[string]any{"demo.nationality": "QQ"}), wantPairs("demo.nationality:invalid_choice")},
		{"lower-case country", withAnswers(full, map[string]any{"demo.nationality": "ma"}), wantPairs("demo.nationality:invalid_choice")},
		{"invalid multi code", withAnswers(full, map[string]any{"drug.before_30d": []string{"alcohol"}}), wantPairs("drug.before_30d:invalid_choice")},
		{"missing code on multi", withAnswers(full, map[string]any{"drug.before_30d": []string{"9"}}), wantPairs("drug.before_30d:invalid_choice")},
		{"consent 9", map[string]any{"meta.consent": "9", "meta.entry_month": "2025-03"}, wantPairs("meta.consent:invalid_choice")},
		{"consent 8", map[string]any{"meta.consent": "8", "meta.entry_month": "2025-03"}, wantPairs("meta.consent:invalid_choice")},

		// duplicate_choice
		{"duplicate choice", withAnswers(full, map[string]any{"drug.lifetime": []string{"cannabis", "cocaine", "heroin", "cannabis"}}), wantPairs("drug.lifetime:duplicate_choice")},

		// missing_required
		{"age missing", withAnswers(full, nil, "demo.age"), wantPairs("demo.age:missing_required")},
		{"gender and nationality missing", withAnswers(full, nil, "demo.gender", "demo.nationality"), wantPairs("demo.gender:missing_required", "demo.nationality:missing_required")},
		{"entry month missing", withAnswers(full, nil, "meta.entry_month"), wantPairs("meta.entry_month:missing_required")},
		{"entry month missing on a refusal", map[string]any{"meta.consent": "0"}, wantPairs("meta.entry_month:missing_required")},
		{"consent missing on an empty body", map[string]any{}, wantPairs("meta.consent:missing_required", "meta.entry_month:missing_required")},

		// not_applicable
		{"drug.lifetime after lifetime_any 0", withAnswers(noDrugs, map[string]any{"drug.lifetime": []string{"cannabis"}}), wantPairs("drug.lifetime:not_applicable")},
		{"drug.main_age_first after lifetime_any 0", withAnswers(noDrugs, map[string]any{"drug.main_age_first": 20}), wantPairs("drug.main_age_first:not_applicable")},
		{"age on a refusal", withAnswers(refusalAnswers(), map[string]any{"demo.age": 34}), wantPairs("demo.age:not_applicable")},
		{"needle sharing after never injected", withAnswers(full, map[string]any{"inject.status": "1"}), wantPairs("inject.share_needle_12m:not_applicable")},
		{"needle sharing after injected long ago", withAnswers(full, map[string]any{"inject.status": "2"}), wantPairs("inject.share_needle_12m:not_applicable")},
		{"needle sharing after inject.status 9", withAnswers(full, map[string]any{"inject.status": "9"}), wantPairs("inject.share_needle_12m:not_applicable")},
		{"previous prison items after 0 incarcerations", withAnswers(full, map[string]any{"demo.prev_incarcerations": "0"}),
			wantPairs("prev_prison.drug_use:not_applicable", "prev_prison.first_use:not_applicable", "prev_prison.injected:not_applicable")},
		{"interpreter at intake when not needed", withAnswers(full, map[string]any{"interp.needed": "0"}), wantPairs("interp.at_intake:not_applicable")},
		{"OST continued when not on OST", withAnswers(full, map[string]any{"ost.status": "2"}), wantPairs("ost.continued_at_entry:not_applicable")},

		// identifier_like
		{"7-digit number in a choice item", withAnswers(full, map[string]any{"demo.legal_status": "1234567"}), wantPairs("demo.legal_status:identifier_like")},
		{"phone number in a country item", withAnswers(full, map[string]any{"demo.birth_country": "0475123456"}), wantPairs("demo.birth_country:identifier_like")},
		{"e-mail in a choice item", withAnswers(full, map[string]any{"demo.gender": "jean.dupont@example.org"}), wantPairs("demo.gender:identifier_like")},
		{"birth date in a multi item", withAnswers(full, map[string]any{"drug.before_30d": []string{"cocaine", "01/01/1985"}}), wantPairs("drug.before_30d:identifier_like")},
		{"long text in a choice item", withAnswers(full, map[string]any{"demo.housing_before": strings.Repeat("lives with his mother ", 3)}), wantPairs("demo.housing_before:identifier_like")},
		{"register number as integer", withAnswers(full, map[string]any{"demo.age": 850101123}), wantPairs("demo.age:identifier_like")},
		{"date as integer", withAnswers(full, map[string]any{"drug.main_age_first": 19850101}), wantPairs("drug.main_age_first:identifier_like")},
		{"national number as link identifier", withAnswers(full, map[string]any{"link.identifier": nn}), wantPairs("link.identifier:identifier_like")},
		{"formatted national number as link identifier", withAnswers(full, map[string]any{"link.identifier": nn[:2] + "." + nn[2:4] + "." + nn[4:6] + "-" + nn[6:9] + "." + nn[9:]}), wantPairs("link.identifier:identifier_like")},
		{"national number of someone born in 2003", withAnswers(full, map[string]any{"link.identifier": nationalNumber("030405", 7, true)}), wantPairs("link.identifier:identifier_like")},
		{"link identifier of 11 digits with a wrong check", withAnswers(full, map[string]any{"link.identifier": nn[:9] + fmt.Sprintf("%02d", (mustAtoi(nn[9:])+1)%100)}), wantPairs("link.identifier:identifier_like")},
		{"national number after letters", withAnswers(full, map[string]any{"link.identifier": "RN85073003328"}), wantPairs("link.identifier:identifier_like")},
		{"national number with dots and a dash", withAnswers(full, map[string]any{"link.identifier": "85.07.30-033.28"}), wantPairs("link.identifier:identifier_like")},
		{"national number in groups", withAnswers(full, map[string]any{"link.identifier": "85 07 30 033 28"}), wantPairs("link.identifier:identifier_like")},
		{"national number with slashes", withAnswers(full, map[string]any{"link.identifier": "85/07/30/033/28"}), wantPairs("link.identifier:identifier_like")},

		// bad_month, month_in_future, month_too_early
		{"month 13", withAnswers(full, map[string]any{"meta.entry_month": "2025-13"}), wantPairs("meta.entry_month:bad_month")},
		{"full date", withAnswers(full, map[string]any{"meta.entry_month": "2025-03-04"}), wantPairs("meta.entry_month:bad_month")},
		{"month without zero", withAnswers(full, map[string]any{"meta.entry_month": "2025-3"}), wantPairs("meta.entry_month:bad_month")},
		{"month first", withAnswers(full, map[string]any{"meta.entry_month": "03-2025"}), wantPairs("meta.entry_month:bad_month")},
		{"month 00", withAnswers(full, map[string]any{"meta.entry_month": "2025-00"}), wantPairs("meta.entry_month:bad_month")},
		{"next month", withAnswers(full, map[string]any{"meta.entry_month": "2025-07"}), wantPairs("meta.entry_month:month_in_future")},
		{"next year", withAnswers(full, map[string]any{"meta.entry_month": "2026-01"}), wantPairs("meta.entry_month:month_in_future")},
		{"before 2015", withAnswers(full, map[string]any{"meta.entry_month": "2014-12"}), wantPairs("meta.entry_month:month_too_early")},

		// out_of_range
		{"age 17", withAnswers(full, map[string]any{"demo.age": 17, "drug.main_age_first": 15}), wantPairs("demo.age:out_of_range")},
		{"age 100", withAnswers(full, map[string]any{"demo.age": 100}), wantPairs("demo.age:out_of_range")},
		{"age 0", withAnswers(full, map[string]any{"demo.age": 0}), wantPairs("demo.age:out_of_range")},
		{"age -34", withAnswers(full, map[string]any{"demo.age": -34}), wantPairs("demo.age:out_of_range")},
		{"age of first use 4", withAnswers(full, map[string]any{"drug.main_age_first": 4}), wantPairs("drug.main_age_first:out_of_range")},
		{"link identifier of 2 characters", withAnswers(full, map[string]any{"link.identifier": "A7"}), wantPairs("link.identifier:out_of_range")},
		{"link identifier of 2 characters after normalising", withAnswers(full, map[string]any{"link.identifier": " a-7. "}), wantPairs("link.identifier:out_of_range")},
		{"link identifier of 65 characters", withAnswers(full, map[string]any{"link.identifier": strings.Repeat("A", 65)}), wantPairs("link.identifier:out_of_range")},

		// above_item
		{"first use after the current age", withAnswers(full, map[string]any{"drug.main_age_first": 40}), wantPairs("drug.main_age_first:above_item")},

		// not_subset
		{"12 months not in lifetime", withAnswers(full, map[string]any{"drug.before_12m": []string{"cannabis", "crack"}, "drug.before_30d": []string{}}), wantPairs("drug.before_12m:not_subset")},
		{"30 days not in 12 months", withAnswers(full, map[string]any{"drug.before_30d": []string{"heroin"}}), wantPairs("drug.before_30d:not_subset")},
		{"12 months without lifetime", withAnswers(full, nil, "drug.lifetime"), wantPairs("drug.before_12m:not_subset")},

		// Several problems at once.
		{"several problems", withAnswers(full, map[string]any{"demo.age": 17, "demo.gender": "male", "meta.entry_month": "2025-03-04", "demo.eyes": "blue"}, "demo.nationality"),
			wantPairs("demo.age:out_of_range", "demo.gender:invalid_choice", "meta.entry_month:bad_month", "demo.eyes:unknown_item", "demo.nationality:missing_required")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, errs := validateAnswers(t, entry, tt.answers)
			if got := errorPairs(errs); !slices.Equal(got, tt.want) {
				t.Fatalf("Validate(%s) = %v, want %v", tt.name, got, tt.want)
			}
			if len(tt.want) == 0 && s == nil {
				t.Fatalf("Validate(%s) = nil submission, want one", tt.name)
			}
			if len(tt.want) > 0 && s != nil {
				t.Errorf("Validate(%s) returned a submission with errors", tt.name)
			}
			quoted := quotedValues(changedAnswers(full, tt.answers))
			for _, e := range errs {
				if e.Message == "" {
					t.Errorf("Validate(%s): %s:%s has no message", tt.name, e.Item, e.Code)
				}
				for _, q := range quoted {
					// Item codes appear in messages about other items ("every choice must
					// also be chosen in drug.lifetime"); they are codes, not answers.
					if entry.Item(q) == nil && strings.Contains(e.Message, q) {
						t.Errorf("Validate(%s): message %q of %s quotes the answer %q", tt.name, e.Message, e.Item, q)
					}
				}
			}
		})
	}
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestValidateAcceptedValues(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	s := mustValidate(t, entry, withAnswers(entryAnswers(), map[string]any{
		"demo.gender": "9", "demo.age": json.RawMessage(`34.0`), "drug.before_30d": []string{},
		"link.identifier": "AB-12.345",
	}))
	if !s.Consent {
		t.Errorf("Validate(full entry).Consent = false, want true")
	}
	if got, want := s.Answers["demo.gender"].Code, "9"; got != want {
		t.Errorf("Validate(gender 9).Answers[demo.gender] = %q, want %q", got, want)
	}
	if got, want := s.Answers["demo.age"].Int, 34; got != want {
		t.Errorf("Validate(age 34.0).Answers[demo.age] = %d, want %d", got, want)
	}
	if v, ok := s.Answers["drug.before_30d"]; !ok || len(v.Codes) != 0 {
		t.Errorf("Validate(before_30d []).Answers[drug.before_30d] = %+v, %v, want an empty answer", v, ok)
	}
	if got, want := s.Answers["meta.entry_month"].Text, "2025-03"; got != want {
		t.Errorf("Validate().Answers[meta.entry_month] = %q, want %q", got, want)
	}
	if got := s.LogValue().String(); strings.Contains(got, "AB-12.345") || strings.Contains(got, "34") || strings.Contains(got, "MA") {
		t.Errorf("Submission.LogValue() = %s, want no answers", got)
	}

	refusal := mustValidate(t, entry, refusalAnswers())
	if refusal.Consent {
		t.Errorf("Validate(refusal).Consent = true, want false")
	}
	if got, want := slices.Sorted(maps.Keys(refusal.Answers)), []string{"meta.consent", "meta.entry_month"}; !slices.Equal(got, want) {
		t.Errorf("Validate(refusal) answers = %v, want %v", got, want)
	}
}

func TestValidateFollowup(t *testing.T) {
	fu := builtinDefinition(t, "followup")
	full := withAnswers(followupAnswers(), map[string]any{"link.identifier": "ab 12345"})
	tests := []struct {
		name    string
		answers map[string]any
		want    []string
	}{
		{"full follow-up", full, wantPairs()},
		{"refusal", map[string]any{"meta.consent": "0", "meta.followup_month": "2025-04"}, wantPairs()},
		{"entry month is not a follow-up item", withAnswers(full, map[string]any{"meta.entry_month": "2025-03"}), wantPairs("meta.entry_month:unknown_item")},
		{"follow-up month missing", withAnswers(full, nil, "meta.followup_month"), wantPairs("meta.followup_month:missing_required")},
		{"time since entry missing", withAnswers(full, nil, "meta.time_since_entry"), wantPairs("meta.time_since_entry:missing_required")},
		{"follow-up month in the future", withAnswers(full, map[string]any{"meta.followup_month": "2025-07"}), wantPairs("meta.followup_month:month_in_future")},
		{"sharing without injecting", withAnswers(full, map[string]any{"inject.share_in_prison": "1"}), wantPairs("inject.share_in_prison:not_applicable")},
		{"use in prison after none", withAnswers(full, map[string]any{"drug.in_prison_any": "0"}),
			wantPairs("drug.in_prison:not_applicable", "drug.first_use_in_prison:not_applicable", "inject.in_prison:not_applicable")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := validateAnswers(t, fu, tt.answers)
			if got := errorPairs(errs); !slices.Equal(got, tt.want) {
				t.Errorf("Validate(followup %s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// TestValidateRefusalAnsweringAnything answers, on a refusal, each item that does not
// always apply, with the value it has in a full questionnaire: each is not applicable.
func TestValidateRefusalAnsweringAnything(t *testing.T) {
	for _, tc := range []struct {
		id      string
		full    map[string]any
		refusal map[string]any
	}{
		{"entry", withAnswers(entryAnswers(), map[string]any{"link.identifier": "AB-12.345"}), refusalAnswers()},
		{"followup", withAnswers(followupAnswers(), map[string]any{"link.identifier": "AB-12.345"}), map[string]any{"meta.consent": "0", "meta.followup_month": "2025-04"}},
	} {
		d := builtinDefinition(t, tc.id)
		for _, it := range d.Items {
			if len(it.When) == 0 {
				continue
			}
			v, ok := tc.full[it.Code]
			if !ok {
				continue
			}
			t.Run(tc.id+"/"+it.Code, func(t *testing.T) {
				_, errs := validateAnswers(t, d, withAnswers(tc.refusal, map[string]any{it.Code: v}))
				if got, want := errorPairs(errs), wantPairs(it.Code+":not_applicable"); !slices.Equal(got, want) {
					t.Errorf("Validate(refusal + %s) = %v, want %v", it.Code, got, want)
				}
			})
		}
	}
}

// TestValidateApplicabilityTransitive: an item whose condition item is absent (or itself
// not applicable) does not apply either.
func TestValidateApplicabilityTransitive(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	tests := []struct {
		name    string
		answers map[string]any
		want    []string
	}{
		{"needle sharing without inject.status", withAnswers(entryAnswers(), nil, "inject.status"), wantPairs("inject.share_needle_12m:not_applicable")},
		{"OST continued without ost.status", withAnswers(entryAnswers(), nil, "ost.status"), wantPairs("ost.continued_at_entry:not_applicable")},
		{"first use in prison without previous drug use", withAnswers(entryAnswers(), nil, "prev_prison.drug_use"),
			wantPairs("prev_prison.first_use:not_applicable", "prev_prison.injected:not_applicable")},
		// prev_prison.drug_use does not apply, so its own answer is dropped and the items
		// that depend on it do not apply either.
		{"chain after 0 incarcerations", withAnswers(entryAnswers(), map[string]any{"demo.prev_incarcerations": "0"}),
			wantPairs("prev_prison.drug_use:not_applicable", "prev_prison.first_use:not_applicable", "prev_prison.injected:not_applicable")},
		{"chain on a refusal", withAnswers(refusalAnswers(), map[string]any{"inject.status": "4", "inject.share_needle_12m": "1"}),
			wantPairs("inject.status:not_applicable", "inject.share_needle_12m:not_applicable")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := validateAnswers(t, entry, tt.answers)
			if got := errorPairs(errs); !slices.Equal(got, tt.want) {
				t.Errorf("Validate(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// TestValidateNoCascadeFromInvalidCondition: when the answer an item's condition tests is
// itself invalid, whether the item applies is unknown. Telling the client that the
// dependent answers "do not apply; leave them out" is wrong: once the controlling answer
// is corrected they are needed. Only the controlling item should be reported.
func TestValidateNoCascadeFromInvalidCondition(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	tests := []struct {
		name    string
		answers map[string]any
		want    []string
	}{
		{"lifetime_any as a number", withAnswers(entryAnswers(), map[string]any{"drug.lifetime_any": 1}), wantPairs("drug.lifetime_any:wrong_type")},
		{"inject.status invalid code", withAnswers(entryAnswers(), map[string]any{"inject.status": "often"}), wantPairs("inject.status:invalid_choice")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := validateAnswers(t, entry, tt.answers)
			if got := errorPairs(errs); !slices.Equal(got, tt.want) {
				t.Errorf("Validate(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

// TestValidateMonthLocalTime: intake workers are in Belgium. Just after midnight on the
// first of a month (local time), the current month is not in the future, even though it is
// still the previous month in UTC.
func TestValidateMonthLocalTime(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	brussels := time.FixedZone("CEST", 2*60*60)
	now := time.Date(2025, 7, 1, 0, 30, 0, 0, brussels) // 2025-06-30 22:30 UTC
	env := decodeBody(t, submissionBody(t, "entry", "haren", withAnswers(refusalAnswers(), map[string]any{"meta.entry_month": "2025-07"})))
	if _, errs := Validate(entry, env, now); errs != nil {
		t.Errorf("Validate(entry month 2025-07 at %v) = %v, want no errors", now, errorPairs(errs))
	}
}

// TestValidateMessagesNeverQuoteAnswers puts many revealing values in one body and checks
// that no message repeats any of them.
func TestValidateMessagesNeverQuoteAnswers(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	nn := nationalNumber("850101", 123, false)
	secrets := map[string]any{
		"demo.age":            100,
		"drug.main_age_first": 850101123,
		"demo.gender":         "jean.dupont@example.org",
		"demo.nationality":    "QQ",
		"demo.birth_country":  "0475123456",
		"demo.legal_status":   "Dupont",
		"link.identifier":     nn,
		"meta.entry_month":    "1985-01-01",
		"drug.before_30d":     []string{"Marrakech"},
	}
	_, errs := validateAnswers(t, entry, withAnswers(entryAnswers(), secrets))
	if len(errs) < len(secrets) {
		t.Fatalf("Validate(revealing values) = %v, want an error per value", errorPairs(errs))
	}
	forbidden := append(quotedValues(secrets), "850101", "1985", "jean", "dupont", "example.org", "0475")
	for _, e := range errs {
		msg := strings.ToLower(e.Message)
		for _, q := range forbidden {
			if strings.Contains(msg, strings.ToLower(q)) {
				t.Errorf("Validate(): message %q of %s quotes %q", e.Message, e.Item, q)
			}
		}
	}
	// The same holds for a body where each item is valid in type but refused for its value.
	_, errs = validateAnswers(t, entry, withAnswers(entryAnswers(), map[string]any{"demo.age": 17, "drug.main_age_first": 15, "demo.nationality": "BE"}))
	for _, e := range errs {
		if strings.Contains(e.Message, "17") {
			t.Errorf("Validate(age 17): message %q quotes the age", e.Message)
		}
	}
}

// TestValidateHugeExponent: a JSON number such as 1e600000000 is a valid number and an
// integer; turning it into a big.Int allocates hundreds of megabytes (one such answer per
// item, a thousand submissions per batch). It must be refused without that cost.
func TestValidateHugeExponent(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	env := decodeBody(t, submissionBody(t, "entry", "haren", withAnswers(entryAnswers(), map[string]any{"demo.age": json.RawMessage(`1e600000000`)})))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, errs := Validate(entry, env, testNow)
	runtime.ReadMemStats(&after)
	if got := errorPairs(errs); len(got) != 1 || got[0] != "demo.age:identifier_like" && got[0] != "demo.age:out_of_range" {
		t.Errorf("Validate(age 1e600000000) = %v, want one demo.age error", got)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Validate(age 1e600000000) allocated %d MiB, want under 16 MiB", alloc>>20)
	}
}

// TestValidateEnvelopeBuiltInCode: Envelope and its Answers are exported, so code outside
// DecodeEnvelope (a form handler, an importer) can build one. The allow-list (PRIVACY.md
// R1) must hold for such an envelope too: an answer to an unknown item is refused, not
// silently dropped.
func TestValidateEnvelopeBuiltInCode(t *testing.T) {
	entry := builtinDefinition(t, "entry")
	env := &Envelope{SubmissionID: testSubmissionID, Questionnaire: "entry", Version: 1, Site: "haren",
		Answers: map[string]json.RawMessage{
			"meta.consent":     json.RawMessage(`"0"`),
			"meta.entry_month": json.RawMessage(`"2025-03"`),
			"demo.name":        json.RawMessage(`"Jean Dupont"`),
		}}
	_, errs := Validate(entry, env, testNow)
	if got, want := errorPairs(errs), wantPairs("demo.name:unknown_item"); !slices.Equal(got, want) {
		t.Errorf("Validate(Envelope{demo.name}) = %v, want %v", got, want)
	}
}

// The tests below hold DecodeEnvelope and Validate to the implementation they replaced
// (the ref… functions, kept here verbatim): the single-pass scanner and the compiled
// plans were made for speed, and must not change one answer.

func refDecodeEnvelope(data []byte) (*Envelope, []FieldError) {
	if !wellFormed(data) {
		return nil, []FieldError{{Code: ErrMalformed, Message: "the body is not valid JSON in UTF-8"}}
	}
	dec := newDecoder(data)
	env, errs := refDecodeEnvelopeFrom(dec)
	if errs == nil {
		if _, err := dec.Token(); err != io.EOF {
			return nil, []FieldError{{Code: ErrMalformed, Message: "the body must hold exactly one JSON object"}}
		}
	}
	return env, errs
}

func refDecodeEnvelopeFrom(dec *gojson.Decoder) (*Envelope, []FieldError) {
	keys, vals, dups, err := jsonObject(dec)
	if err != nil {
		return nil, []FieldError{{Code: ErrMalformed, Message: "the body is not a valid JSON submission object"}}
	}
	var errs []FieldError
	for _, k := range dups {
		errs = append(errs, FieldError{Item: k, Code: ErrDuplicateKey, Message: "this field is given twice"})
	}
	for _, k := range keys {
		if !slices.Contains(envelopeFields, k) {
			errs = append(errs, FieldError{Item: k, Code: ErrUnknownField, Message: "unknown field; allowed: " + strings.Join(envelopeFields, ", ")})
		}
	}
	env := &Envelope{}
	str := func(name string, dst *string) {
		raw, ok := vals[name]
		if !ok {
			errs = append(errs, FieldError{Item: name, Code: ErrMissingField, Message: "this field is required"})
			return
		}
		if err := gojson.Unmarshal(raw, dst); err != nil || *dst == "" {
			errs = append(errs, FieldError{Item: name, Code: ErrWrongType, Message: "must be a non-empty string"})
		}
	}
	str("submission_id", &env.SubmissionID)
	str("questionnaire", &env.Questionnaire)
	str("site", &env.Site)
	if raw, ok := vals["version"]; !ok {
		errs = append(errs, FieldError{Item: "version", Code: ErrMissingField, Message: "this field is required"})
	} else if v, err := strconv.Atoi(string(raw)); err != nil || v < 1 {
		errs = append(errs, FieldError{Item: "version", Code: ErrWrongType, Message: "must be a positive whole number"})
	} else {
		env.Version = v
	}
	if env.SubmissionID != "" {
		if id, err := uuid.Parse(env.SubmissionID); err != nil || len(env.SubmissionID) != 36 {
			errs = append(errs, FieldError{Item: "submission_id", Code: ErrInvalidID, Message: "must be a UUID chosen by the client, like 0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"})
		} else {
			env.SubmissionID = id.String()
		}
	}
	if raw, ok := vals["answers"]; !ok {
		errs = append(errs, FieldError{Item: "answers", Code: ErrMissingField, Message: "this field is required"})
	} else {
		_, answers, dups, err := jsonObject(newDecoder(raw))
		if err != nil {
			errs = append(errs, FieldError{Item: "answers", Code: ErrWrongType, Message: "must be an object of item code to answer"})
		}
		for _, k := range dups {
			errs = append(errs, FieldError{Item: k, Code: ErrDuplicateKey, Message: "this item is answered twice"})
		}
		env.Answers = answers
	}
	if errs != nil {
		return nil, errs
	}
	return env, nil
}

func refValidate(d *Definition, env *Envelope, now time.Time) (*Submission, []FieldError) {
	v := refValidation{def: d, answers: map[string]Value{}, bad: map[string]bool{}}
	for _, code := range slices.Sorted(maps.Keys(env.Answers)) {
		if d.Item(code) == nil {
			v.fail(code, ErrUnknownItem, "this item is not part of "+d.ID+" version "+strconv.Itoa(d.Version))
		}
	}
	thisMonth := now.In(brussels).Format("2006-01")
	applies := map[string]applicability{}
	for _, it := range d.Items {
		raw, answered := env.Answers[it.Code]
		if answered {
			v.parse(it, raw, thisMonth)
		}
		applies[it.Code] = v.applies(it, applies)
		switch {
		case applies[it.Code] == unknown:
			delete(v.answers, it.Code)
			v.bad[it.Code] = true
		case answered && applies[it.Code] == no:
			if !v.bad[it.Code] {
				v.fail(it.Code, ErrNotApplicable, "this item does not apply given the answers to "+conditionItems(it)+"; leave it out")
			}
			delete(v.answers, it.Code)
		case !answered && applies[it.Code] == yes && it.Required:
			v.fail(it.Code, ErrMissingRequired, "this item is required")
		}
	}
	v.crossChecks()
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	s := &Submission{ID: env.SubmissionID, Definition: d, Site: env.Site, Answers: v.answers,
		Consent: v.answers[ConsentItem].Code == "1"}
	return s, nil
}

type refValidation struct {
	def     *Definition
	answers map[string]Value
	bad     map[string]bool
	errs    []FieldError
}

func (v *refValidation) fail(item, code, msg string) {
	v.bad[item] = true
	v.errs = append(v.errs, FieldError{Item: item, Code: code, Message: msg})
}

func (v *refValidation) applies(it *Item, applies map[string]applicability) applicability {
	result := yes
	for _, c := range it.When {
		switch {
		case applies[c.Item] == no:
			return no
		case applies[c.Item] == unknown || v.bad[c.Item]:
			result = unknown
			continue
		}
		if a, ok := v.answers[c.Item]; !ok || !slices.Contains(c.In, a.Code) {
			return no
		}
	}
	return result
}

func (v *refValidation) parse(it *Item, raw gojson.RawMessage, thisMonth string) {
	s, isString := refJSONString(raw)
	switch it.Type {
	case TypeChoice:
		if !isString {
			v.fail(it.Code, ErrWrongType, "must be one choice code, as a string")
			return
		}
		if _, ok := it.Choice(s); !ok {
			v.badCode(it, s)
			return
		}
		v.answers[it.Code] = Value{Code: s}
	case TypeMulti:
		var list []string
		if len(raw) == 0 || raw[0] != '[' || gojson.Unmarshal(raw, &list) != nil {
			v.fail(it.Code, ErrWrongType, "must be an array of choice codes (strings)")
			return
		}
		seen := map[string]bool{}
		for _, code := range list {
			if _, ok := it.Choice(code); !ok {
				v.badCode(it, code)
				return
			}
			if seen[code] {
				v.fail(it.Code, ErrDuplicateChoice, "a choice is given twice")
				return
			}
			seen[code] = true
		}
		v.answers[it.Code] = Value{Codes: list}
	case TypeInteger:
		n, ok := integer(raw)
		switch {
		case !ok:
			v.fail(it.Code, ErrWrongType, "must be a whole number")
		case n.CmpAbs(big.NewInt(99999)) > 0:
			v.fail(it.Code, ErrIdentifierLike, "this looks like an identifier or a date, not an answer; it was not stored")
		case n.Int64() < int64(*it.Min) || n.Int64() > int64(*it.Max):
			v.fail(it.Code, ErrOutOfRange, fmt.Sprintf("must be between %d and %d", *it.Min, *it.Max))
		default:
			v.answers[it.Code] = Value{Int: int(n.Int64())}
		}
	case TypeMonth:
		switch {
		case !isString:
			v.fail(it.Code, ErrWrongType, "must be a month as a string, YYYY-MM")
		case !monthPattern.MatchString(s):
			v.fail(it.Code, ErrBadMonth, "must be a month written YYYY-MM (never a full date)")
		case it.MinMonth != "" && s < it.MinMonth:
			v.fail(it.Code, ErrMonthTooEarly, "must not be before "+it.MinMonth)
		case it.NotFuture && s > thisMonth:
			v.fail(it.Code, ErrMonthFuture, "must not be in the future")
		default:
			v.answers[it.Code] = Value{Text: s}
		}
	case TypeIdentifier:
		norm := NormaliseIdentifier(s)
		switch {
		case !isString:
			v.fail(it.Code, ErrWrongType, "must be a string")
		case utf8.RuneCountInString(norm) < 3 || utf8.RuneCountInString(norm) > 64:
			v.fail(it.Code, ErrOutOfRange, "must have between 3 and 64 letters or digits")
		case holdsRegisterNumber(s):
			v.fail(it.Code, ErrIdentifierLike, "looks like a national register number (11 digits), which must never be entered; use the team's own identifier")
		default:
			v.answers[it.Code] = Value{Text: s}
		}
	}
}

func (v *refValidation) badCode(it *Item, code string) {
	if looksLikeIdentifier(code) {
		v.fail(it.Code, ErrIdentifierLike, "this looks like an identifier or personal detail, not a choice code; it was not stored")
		return
	}
	v.fail(it.Code, ErrInvalidChoice, "not one of the choice codes of this item")
}

func (v *refValidation) crossChecks() {
	for _, it := range v.def.Items {
		a, ok := v.answers[it.Code]
		if !ok {
			continue
		}
		if it.SubsetOf != "" && !v.bad[it.SubsetOf] {
			outer := v.answers[it.SubsetOf].Codes
			for _, c := range a.Codes {
				if !slices.Contains(outer, c) {
					v.fail(it.Code, ErrNotSubset, "every choice must also be chosen in "+it.SubsetOf)
					break
				}
			}
		}
		if it.MaxItem != "" {
			if bound, ok := v.answers[it.MaxItem]; ok && a.Int > bound.Int {
				v.fail(it.Code, ErrAboveItem, "must not be more than the answer to "+it.MaxItem)
			}
		}
	}
}

func refJSONString(raw gojson.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		plain := true
		for _, c := range raw[1 : n-1] {
			if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
				plain = false
				break
			}
		}
		if plain {
			return string(raw[1 : n-1]), true
		}
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || gojson.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// sameDecode reports how DecodeEnvelope(data) differs from the reference, or "".
func sameDecode(data []byte) string {
	env, errs := DecodeEnvelope(data)
	wantEnv, wantErrs := refDecodeEnvelope(data)
	for i := range errs { // the reference speaks English only; the keys are checked in errors_test.go
		errs[i].Key, errs[i].Args = "", nil
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		return fmt.Sprintf("errors %v, reference %v", errs, wantErrs)
	}
	if !reflect.DeepEqual(env, wantEnv) {
		return fmt.Sprintf("envelope %+v, reference %+v", env, wantEnv)
	}
	return ""
}

// sameValidate reports how Validate(d, env) differs from the reference, or "".
func sameValidate(d *Definition, env *Envelope) string {
	sub, errs := Validate(d, env, testNow)
	want, wantErrs := refValidate(d, env, testNow)
	for i := range errs { // the reference speaks English only; the keys are checked by TestValidateMessagesKeyed
		errs[i].Key, errs[i].Args = "", nil
	}
	switch {
	case !reflect.DeepEqual(errs, wantErrs):
		return fmt.Sprintf("errors %v, reference %v", errs, wantErrs)
	case (sub == nil) != (want == nil):
		return fmt.Sprintf("submission %v, reference %v", sub, want)
	case sub == nil:
		return ""
	case sub.ID != want.ID || sub.Site != want.Site || sub.Definition != want.Definition || sub.Consent != want.Consent:
		return fmt.Sprintf("submission %+v, reference %+v", sub, want)
	case !reflect.DeepEqual(sub.Answers, want.Answers):
		return fmt.Sprintf("answers %+v, reference %+v", sub.Answers, want.Answers)
	}
	return ""
}

// mutateBody returns body changed in a way that matters to a JSON decoder: a byte
// removed, added or replaced by one that JSON gives meaning to, a run repeated, a member
// repeated, a key escaped or in another script.
func mutateBody(r *mathrand.Rand, body []byte) []byte {
	const alphabet = "{}[]\",:\\ \t\n\r0123456789-+.eEtrufalsn/bu\x00\x1f\x7f\xff\xc3\xa9\xed\xa0\x80a"
	b := slices.Clone(body)
	at := r.IntN(len(b) + 1)
	switch r.IntN(9) {
	case 0:
		if at < len(b) {
			b = slices.Delete(b, at, at+1)
		}
	case 1:
		b = slices.Insert(b, at, alphabet[r.IntN(len(alphabet))])
	case 2:
		if at < len(b) {
			b[at] = alphabet[r.IntN(len(alphabet))]
		}
	case 3:
		end := min(len(b), at+r.IntN(40))
		b = slices.Insert(b, r.IntN(len(b)+1), b[at:end]...)
	case 4:
		b = bytes.Replace(b, []byte(`"answers":{`), []byte(`"answers":{"demo.age":35,`), 1)
	case 5:
		b = bytes.Replace(b, []byte(`"site"`), []byte(`"site":"mons","site"`), 1)
	case 6:
		b = bytes.Replace(b, []byte(`"demo.gender"`), []byte(`"demo\u002egender"`), 1)
	case 7:
		b = bytes.Replace(b, []byte(`"meta.consent"`), []byte("\"m\u00e9ta.consent\""), 1)
	case 8:
		b = bytes.ReplaceAll(b, []byte(`,`), []byte(" ,\n\t"))
	}
	return b
}

// TestDecodeEnvelopeFastPath: on generated bodies and thousands of mutations of them,
// DecodeEnvelope gives exactly what the reference gives.
func TestDecodeEnvelopeFastPath(t *testing.T) {
	gen := NewDemo(2025, 11, testNow)
	r := mathrand.New(mathrand.NewPCG(1, 2))
	fast := 0
	for i := range 3000 {
		body := gen.Next().Body
		for range i % 4 {
			body = mutateBody(r, body)
		}
		if diff := sameDecode(body); diff != "" {
			t.Fatalf("DecodeEnvelope(%q): %s", body, diff)
		}
		if _, _, ok := decodeEnvelopeFast(body); ok {
			fast++
		}
	}
	for _, s := range []string{
		`{}`, ` {"answers":{}} `, `{"answers":[]}`, `{"answers":{},"answers":{"a":1}}`, `{"answers":"x","answers":{}}`,
		`{"answers":{"a":1,"a":2,"b":{"c":[true,false,null,-0.5e+3]}}}`, `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"version":01}`, `{"version":1.}`, `{"version":-}`, `{"version":1e}`, `{"x":"\u12"}`, `{"x":"\q"}`, "{\"x\":\"\t\"}",
		`{"x":tru}`, `{"x":nul}`, `{"x" 1}`, `{"x":1,}`, `{,}`, `{"x":[1,]}`, `{"x":[,1]}`, `{"x":1}}`, `{"x":1} {}`,
		`{"submission_id":"0B8F6C1E-3C2A-4D5E-9F10-1A2B3C4D5E6F","questionnaire":"entry","version":1,"site":"haren","answers":{"a":[ "b" , "c" ]}}`,
		`{"submission_id":"urn:uuid:0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f","questionnaire":"e\u006etry","version":1,"site":"","answers":{}}`,
		`{"submission_id":null,"questionnaire":1,"version":"1","site":true,"answers":null}`,
		"{\"x\":\"\xed\xa0\x80\"}", "{\"x\":\"\xef\xbf\xbd\"}", "\xef\xbb\xbf{}",
	} {
		if diff := sameDecode([]byte(s)); diff != "" {
			t.Errorf("DecodeEnvelope(%q): %s", s, diff)
		}
	}
	if fast < 1000 {
		t.Errorf("the scanner read %d bodies of 3000, want most unmutated ones", fast)
	}
}

// TestValidateMatchesReference: on generated questionnaires with answers replaced by
// values of every kind, Validate gives exactly what the reference gives.
func TestValidateMatchesReference(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	values := []string{`"1"`, `"0"`, `"8"`, `"9"`, `"F"`, `"\u0046"`, `"f"`, `34`, `17`, `34.0`, `3.4e1`, `-0`, `"34"`,
		`1e600000000`, `123456789`, `1234567890`, ` 40 `, `-5`, `[]`, `["cannabis"]`, `[ "heroin" , "other" ]`,
		`["cannabis","cannabis"]`, `["x"]`, `["a\u0062"]`, `["cannabis",null]`, `[1]`, `["cannabis"] `, `null`, `true`,
		`{}`, `"2025-03"`, `"2025-13"`, `"2030-01"`, `"2014-01"`, `"2025-3"`, `"\uff12025-03"`, `" ab 12.345"`,
		`"85010112345"`, `"é"`, `"0470123456"`, `"a@b"`, `""`, `"BE"`, `"MA"`, `"stateless"`}
	gen := NewDemo(2025, 12, testNow)
	r := mathrand.New(mathrand.NewPCG(3, 4))
	for i := range 4000 {
		env, errs := refDecodeEnvelope(gen.Next().Body)
		if errs != nil {
			t.Fatal(errs)
		}
		d, _ := c.Get(env.Questionnaire, env.Version)
		for range i % 5 {
			it := d.Items[r.IntN(len(d.Items))]
			switch k := r.IntN(10); {
			case k == 0:
				delete(env.Answers, it.Code)
			case k == 1 && len(it.Choices) > 0:
				env.Answers[it.Code] = gojson.RawMessage(strconv.Quote(it.Choices[r.IntN(len(it.Choices))].Code))
			case k == 2 && len(it.Choices) > 0:
				env.Answers[it.Code] = gojson.RawMessage(`["` + it.Choices[r.IntN(len(it.Choices))].Code + `","` + it.Choices[r.IntN(len(it.Choices))].Code + `"]`)
			case k == 3:
				env.Answers["demo.colour"] = gojson.RawMessage(`"blue"`)
			default:
				env.Answers[it.Code] = gojson.RawMessage(values[r.IntN(len(values))])
			}
		}
		if diff := sameValidate(d, env); diff != "" {
			t.Fatalf("Validate(%v): %s", env.Answers, diff)
		}
	}
}

// FuzzDecodeEnvelopeReference explores what TestDecodeEnvelopeFastPath samples.
func FuzzDecodeEnvelopeReference(f *testing.F) {
	gen := NewDemo(2025, 13, testNow)
	for range 5 {
		f.Add(gen.Next().Body)
	}
	f.Add([]byte(`{"answers":{"a":1,"a":2},"answers":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff := sameDecode(data); diff != "" {
			t.Fatalf("DecodeEnvelope(%q): %s", data, diff)
		}
	})
}

// TestValidateMessagesKeyed: every problem the validator finds in generated and mutated
// submissions carries a catalogue key whose English text is its Message, so the API can
// answer it in the client's language.
func TestValidateMessagesKeyed(t *testing.T) {
	gen := NewDemo(2025, 17, testNow)
	r := mathrand.New(mathrand.NewPCG(3, 4))
	cat, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for i := range 2000 {
		body := gen.Next().Body
		for range 1 + i%4 {
			body = mutateBody(r, body)
		}
		env, ferrs := DecodeEnvelope(body)
		if ferrs != nil {
			continue
		}
		d, ok := cat.Get(env.Questionnaire, env.Version)
		if !ok {
			continue
		}
		_, ferrs = Validate(d, env, testNow)
		for _, fe := range ferrs {
			seen++
			if fe.Key == "" || words.EN.T(fe.Key, fe.Args...) != fe.Message {
				t.Fatalf("Validate: problem %+v has no key, or its key's English is not its message", fe)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no problem found: the mutations did not reach the validator")
	}
}
