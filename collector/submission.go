package collector

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Brussels on machines without zoneinfo
	"unicode/utf8"

	json "github.com/goccy/go-json" // encoding/json semantics, a third of the CPU
	"github.com/google/uuid"
)

// Envelope is a decoded but not yet validated submission: the fields of DESIGN.md §3
// with the answers still raw JSON. It holds raw answers, so it must not be logged.
type Envelope struct {
	SubmissionID  string
	Questionnaire string
	Version       int
	Site          string
	Answers       map[string]json.RawMessage
}

// LogValue keeps answers out of logs whatever a caller passes to slog.
func (e *Envelope) LogValue() slog.Value {
	return slog.GroupValue(slog.String("submission_id", e.SubmissionID),
		slog.String("questionnaire", e.Questionnaire), slog.Int("answers", len(e.Answers)))
}

// Value is one validated answer. Exactly one field is meaningful, by the item's type.
type Value struct {
	Code  string   // choice
	Codes []string // multi
	Int   int      // integer
	Text  string   // month ("YYYY-MM") or identifier (raw, never stored)
}

// Submission is a validated submission with its exact answers. It exists only in memory
// during a request: pass it to [Anonymiser.Anonymise] and drop it.
type Submission struct {
	ID            string
	Definition    *Definition
	Site          string
	Answers       map[string]Value
	Consent       bool
	canonicalJSON []byte // for the fingerprint; holds raw answers
}

// LogValue redacts the answers: only counts and codes that are not answers appear.
func (s *Submission) LogValue() slog.Value {
	return slog.GroupValue(slog.String("submission_id", s.ID),
		slog.String("questionnaire", s.Definition.ID), slog.Int("version", s.Definition.Version),
		slog.String("site", s.Site), slog.Int("answers", len(s.Answers)))
}

// jsonObject reads one JSON object from dec and returns its keys in order, their values,
// and the keys given more than once. encoding/json keeps the last of duplicate keys
// silently, which would let two different answers hide in one body: callers refuse them.
func jsonObject(dec *json.Decoder) (keys []string, vals map[string]json.RawMessage, dups []string, err error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, nil, errors.New("expected a JSON object")
	}
	vals = map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, nil, errors.New("object keys must be strings")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, nil, err
		}
		if _, dup := vals[key]; dup {
			if !slices.Contains(dups, key) {
				dups = append(dups, key)
			}
			continue
		}
		vals[key] = raw
		keys = append(keys, key)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, nil, err
	}
	return keys, vals, dups, nil
}

func newDecoder(data []byte) *json.Decoder {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec
}

// wellFormed checks the syntax and the encoding of a body before it is decoded: the
// decoder used for speed (goccy/go-json) does not check a token stream's syntax, and
// neither it nor encoding/json refuses invalid UTF-8, which must not reach a site code
// or an identifier.
func wellFormed(data []byte) bool {
	return utf8.Valid(data) && stdjson.Valid(data)
}

// envelopeFields are the only keys a submission object may have (PRIVACY.md R1).
var envelopeFields = []string{"submission_id", "questionnaire", "version", "site", "answers"}

// DecodeEnvelope decodes one submission object strictly: unknown keys, duplicate keys,
// wrong types and trailing data are all reported, every problem at once. It does not look
// at the answers beyond requiring an object without duplicate keys.
func DecodeEnvelope(data []byte) (*Envelope, []FieldError) {
	if !wellFormed(data) {
		return nil, []FieldError{{Code: ErrMalformed, Message: "the body is not valid JSON in UTF-8"}}
	}
	dec := newDecoder(data)
	env, errs := decodeEnvelope(dec)
	if errs == nil {
		if _, err := dec.Token(); err != io.EOF {
			return nil, []FieldError{{Code: ErrMalformed, Message: "the body must hold exactly one JSON object"}}
		}
	}
	return env, errs
}

func decodeEnvelope(dec *json.Decoder) (*Envelope, []FieldError) {
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
		if err := json.Unmarshal(raw, dst); err != nil || *dst == "" {
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

// ConsentItem is the item every questionnaire starts with; "0" makes a refusal record,
// in which only items that always apply may be answered.
const ConsentItem = "meta.consent"

// Validate checks the answers of env against d and returns the submission, or every
// problem found. now bounds "not in the future" months. Messages never quote an answer.
func Validate(d *Definition, env *Envelope, now time.Time) (*Submission, []FieldError) {
	v := validation{def: d, answers: map[string]Value{}, bad: map[string]bool{}}
	for _, code := range slices.Sorted(maps.Keys(env.Answers)) {
		if d.Item(code) == nil {
			v.fail(code, ErrUnknownItem, "this item is not part of "+d.ID+" version "+strconv.Itoa(d.Version))
		}
	}
	// Months are those of the people filling the forms: at 00:30 on 1 March in Brussels
	// it is still February in UTC, and March must not be "in the future".
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
			// A condition rests on an answer that is itself in error: saying "leave it
			// out" or "required" now would mislead; the first error is reported.
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
	s.canonicalJSON = canonical(s)
	return s, nil
}

func conditionItems(it *Item) string {
	var codes []string
	for _, c := range it.When {
		codes = append(codes, c.Item)
	}
	return strings.Join(codes, ", ")
}

type validation struct {
	def     *Definition
	answers map[string]Value
	bad     map[string]bool // items with an error already
	errs    []FieldError
}

func (v *validation) fail(item, code, msg string) {
	v.bad[item] = true
	v.errs = append(v.errs, FieldError{Item: item, Code: code, Message: msg})
}

type applicability int

const (
	yes     applicability = iota // every condition holds
	no                           // a condition fails
	unknown                      // a condition rests on an answer that is in error
)

// brussels is the time zone of the prisons; embedded (time/tzdata) so that a machine
// without zoneinfo still knows it.
var brussels = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		panic(err)
	}
	return loc
}()

// applies reports whether all the item's conditions hold. A condition on an item that
// does not apply, or was not answered, fails; one on an item answered in error is unknown.
func (v *validation) applies(it *Item, applies map[string]applicability) applicability {
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

func (v *validation) parse(it *Item, raw json.RawMessage, thisMonth string) {
	s, isString := jsonString(raw)
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
		if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
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
		case isNationalNumber(norm):
			v.fail(it.Code, ErrIdentifierLike, "looks like a national register number, which must never be entered; use the team's own identifier")
		default:
			v.answers[it.Code] = Value{Text: s}
		}
	}
}

// badCode reports an unknown code, without quoting it, and says so louder when the value
// looks like personal data typed into the wrong place.
func (v *validation) badCode(it *Item, code string) {
	if looksLikeIdentifier(code) {
		v.fail(it.Code, ErrIdentifierLike, "this looks like an identifier or personal detail, not a choice code; it was not stored")
		return
	}
	v.fail(it.Code, ErrInvalidChoice, "not one of the choice codes of this item")
}

// crossChecks applies the rules between items: subsets and upper bounds.
func (v *validation) crossChecks() {
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

// jsonString returns the value of a JSON string. Answers are short codes: the common
// case, without escapes, is read directly; anything else goes through encoding/json.
func jsonString(raw json.RawMessage) (string, bool) {
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
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// integer parses a JSON number that is a whole number (34 or 34.0, not 34.5 or "34"),
// exactly. Numbers too long or with too large an exponent to be an answer come back as a
// large value, without being expanded: 1e600000000 is short but would take gigabytes.
func integer(raw json.RawMessage) (*big.Int, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return nil, false
	}
	if len(s) <= 9 { // plain digits: the common case, without big numbers
		if n, err := strconv.Atoi(s); err == nil {
			return big.NewInt(int64(n)), true
		}
	}
	absurd := big.NewInt(1 << 40)
	if len(s) > 40 {
		return absurd, true
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > 40 {
			return absurd, true
		}
		if exp < -40 {
			return nil, false // a tiny fraction, not a whole number
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() {
		return nil, false
	}
	return r.Num(), true
}

// looksLikeIdentifier reports values that are not codes and could be personal data: long
// runs of digits (register, prisoner or phone numbers, dates), e-mail addresses, long text.
func looksLikeIdentifier(s string) bool {
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	return digits >= 6 || strings.Contains(s, "@") || len(s) > 40
}

// isNationalNumber reports whether a normalised identifier is a Belgian national register
// number (11 digits whose last two are 97 minus the first nine modulo 97, with a 2 prefixed
// for people born from 2000).
func isNationalNumber(norm string) bool {
	if len(norm) != 11 {
		return false
	}
	n, err := strconv.ParseInt(norm[:9], 10, 64)
	if err != nil {
		return false
	}
	check, err := strconv.ParseInt(norm[9:], 10, 64)
	if err != nil {
		return false
	}
	return 97-n%97 == check || 97-(2000000000+n)%97 == check
}

// canonical is a deterministic encoding of the whole submission (answers sorted by code,
// multi codes sorted), so that a replay with the same content has the same fingerprint
// whatever the key order of its JSON.
func canonical(s *Submission) []byte {
	b := make([]byte, 0, 1024)
	b = append(b, s.Definition.ID...)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(s.Definition.Version), 10)
	b = append(b, '|')
	b = append(b, s.Site...)
	codes := make([]string, 0, len(s.Answers))
	for c := range s.Answers {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	text := func(b []byte, v string) []byte { // length-prefixed: no value can fake a separator
		b = append(b, 's')
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		return append(b, v...)
	}
	for _, c := range codes {
		a := s.Answers[c]
		b = append(b, '|')
		b = append(b, c...)
		b = append(b, '=')
		switch s.Definition.Item(c).Type {
		case TypeChoice:
			b = append(b, "c:"...)
			b = append(b, a.Code...)
		case TypeMulti:
			m := slices.Clone(a.Codes)
			slices.Sort(m)
			b = append(b, "m:"...)
			b = append(b, strings.Join(m, ",")...)
		case TypeInteger:
			b = append(b, "i:"...)
			b = strconv.AppendInt(b, int64(a.Int), 10)
		case TypeIdentifier:
			b = text(b, NormaliseIdentifier(a.Text))
		default:
			b = text(b, a.Text)
		}
	}
	return b
}
