package collector

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Brussels on machines without zoneinfo
	"unicode"
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
	ID         string
	Definition *Definition
	Site       string
	Answers    map[string]Value
	Consent    bool
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

// envelopeFields are the only keys a submission object may have (PRIVACY.md R1).
var envelopeFields = []string{"submission_id", "questionnaire", "version", "site", "answers"}

// DecodeEnvelope decodes one submission object strictly: unknown keys, duplicate keys,
// wrong types and trailing data are all reported, every problem at once. It does not look
// at the answers beyond requiring an object without duplicate keys.
//
// Bodies as clients write them (plain keys, valid UTF-8, shallow nesting) take a
// single-pass scanner; anything else, including every malformed body, goes through the
// general path (encoding/json's checks, then goccy/go-json), which has the final word. The
// two agree on every body the scanner accepts (TestDecodeEnvelopeFastPath checks it).
func DecodeEnvelope(data []byte) (*Envelope, []FieldError) {
	if env, errs, ok := decodeEnvelopeFast(data); ok {
		return env, errs
	}
	return decodeEnvelopeGeneral(data)
}

// decodeEnvelopeGeneral is DecodeEnvelope for any input.
func decodeEnvelopeGeneral(data []byte) (*Envelope, []FieldError) {
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
	return envelopeOf(keys, vals, dups, func(raw json.RawMessage) (map[string]json.RawMessage, []string, error) {
		_, answers, dups, err := jsonObject(newDecoder(raw))
		return answers, dups, err
	})
}

// envelopeOf checks the members of a submission object: keys in order, the first value of
// each, the keys given twice; answers decodes the value of "answers" the same way.
func envelopeOf(keys []string, vals map[string]json.RawMessage, dups []string,
	answers func(json.RawMessage) (map[string]json.RawMessage, []string, error)) (*Envelope, []FieldError) {
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
		if s, ok := plainJSONString(raw); ok {
			*dst = string(s)
		} else if err := json.Unmarshal(raw, dst); err != nil {
			*dst = ""
		}
		if *dst == "" {
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
		answers, dups, err := answers(raw)
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

// decodeEnvelopeFast decodes a body in one pass when it is in the subset that scanner
// reads; ok is false otherwise, and the general path must decide.
func decodeEnvelopeFast(data []byte) (_ *Envelope, _ []FieldError, ok bool) {
	s := scanner{data: data}
	s.skipSpace()
	if !s.at('{') {
		return nil, nil, false
	}
	var (
		topBuf, ansBuf [64]member
		answers        []member
		seenAnswers    bool
		answersAt      = -1 // index of the first "answers" member, when its value is an object
	)
	// The first "answers" member, the one kept, is read as an object of members.
	top, ok := s.object(topBuf[:0], func(key span, i int) (bool, bool) {
		if seenAnswers || string(data[key.from:key.to]) != "answers" {
			return false, true
		}
		seenAnswers = true
		if !s.at('{') {
			return false, true
		}
		answersAt = i
		var ok bool
		answers, ok = s.object(ansBuf[:0], nil)
		return true, ok
	})
	if !ok {
		return nil, nil, false
	}
	if s.skipSpace(); s.pos != len(data) {
		return nil, nil, false
	}
	keys := make([]string, 0, len(top))
	vals := make(map[string]json.RawMessage, len(top))
	var dups []string
	for _, m := range top {
		k := string(data[m.key.from:m.key.to])
		if _, dup := vals[k]; dup {
			if !slices.Contains(dups, k) {
				dups = append(dups, k)
			}
			continue
		}
		vals[k] = data[m.val.from:m.val.to:m.val.to]
		keys = append(keys, k)
	}
	env, errs := envelopeOf(keys, vals, dups, func(raw json.RawMessage) (map[string]json.RawMessage, []string, error) {
		if answersAt < 0 {
			return nil, nil, errors.New("expected a JSON object")
		}
		return answerMap(data, top[answersAt].val, answers)
	})
	return env, errs, true
}

// answerMap builds the answers of an envelope from the members of the answers object
// (the first value of each key, and the keys given twice). Keys and values are copied out
// of the body, each set in one allocation: the envelope does not hold on to the body.
func answerMap(data []byte, obj span, ms []member) (map[string]json.RawMessage, []string, error) {
	keys := string(data[obj.from:obj.to])
	raws := slices.Clone(data[obj.from:obj.to])
	at := func(sp span) (int, int) { return sp.from - obj.from, sp.to - obj.from }
	vals := make(map[string]json.RawMessage, len(ms))
	var dups []string
	for _, m := range ms {
		kf, kt := at(m.key)
		k := keys[kf:kt]
		if _, dup := vals[k]; dup {
			if !slices.Contains(dups, k) {
				dups = append(dups, k)
			}
			continue
		}
		vf, vt := at(m.val)
		vals[k] = raws[vf:vt:vt]
	}
	return vals, dups, nil
}

// span is a range of bytes of a body.
type span struct{ from, to int }

// member is a key (without its quotes) and the value of an object member.
type member struct{ key, val span }

// scanner reads the JSON that clients write, in one pass and without allocating, and
// checks it exactly as strictly as utf8.Valid and encoding/json.Valid together; it gives
// up (ok false) on what it does not read — object keys that are not plain ASCII (escapes,
// other scripts), nesting deeper than maxScanDepth — and on anything malformed, leaving
// both to the general path. So it can only make common bodies faster, never change an
// answer.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

// maxScanDepth bounds the nesting the scanner follows; a submission nests three deep.
const maxScanDepth = 32

func (s *scanner) at(c byte) bool { return s.pos < len(s.data) && s.data[s.pos] == c }

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object reads the object at s.pos and appends its members to ms. Keys must be plain
// ASCII. For each member, before its value, special may read the value itself (it then
// returns handled, and whether the value was read); with a nil special, or when special
// leaves it, a value is only checked.
func (s *scanner) object(ms []member, special func(key span, i int) (handled, ok bool)) ([]member, bool) {
	if s.depth++; s.depth > maxScanDepth {
		return nil, false
	}
	defer func() { s.depth-- }()
	s.pos++ // '{'
	s.skipSpace()
	if s.at('}') {
		s.pos++
		return ms, true
	}
	for {
		if !s.at('"') {
			return nil, false
		}
		key, ok := s.plainKey()
		if !ok {
			return nil, false
		}
		s.skipSpace()
		if !s.at(':') {
			return nil, false
		}
		s.pos++
		s.skipSpace()
		from := s.pos
		handled, ok := false, true
		if special != nil {
			handled, ok = special(key, len(ms))
		}
		if !ok || !handled && !s.value() {
			return nil, false
		}
		ms = append(ms, member{key: key, val: span{from, s.pos}})
		s.skipSpace()
		switch {
		case s.at(','):
			s.pos++
			s.skipSpace()
		case s.at('}'):
			s.pos++
			return ms, true
		default:
			return nil, false
		}
	}
}

// plainKey reads a string of printable ASCII without escapes, whose text is its bytes.
func (s *scanner) plainKey() (span, bool) {
	from := s.pos + 1
	for i := from; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			return span{from, i}, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return span{}, false
		}
	}
	return span{}, false
}

// value checks the value at s.pos and moves past it.
func (s *scanner) value() bool {
	if s.pos >= len(s.data) {
		return false
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		return s.str()
	case c == '{':
		_, ok := s.object(nil, nil)
		return ok
	case c == '[':
		return s.array()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

func (s *scanner) literal(word string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return false
	}
	s.pos += len(word)
	return true
}

func (s *scanner) array() bool {
	if s.depth++; s.depth > maxScanDepth {
		return false
	}
	defer func() { s.depth-- }()
	s.pos++ // '['
	s.skipSpace()
	if s.at(']') {
		s.pos++
		return true
	}
	for {
		if !s.value() {
			return false
		}
		s.skipSpace()
		switch {
		case s.at(','):
			s.pos++
			s.skipSpace()
		case s.at(']'):
			s.pos++
			return true
		default:
			return false
		}
	}
}

// str checks a string: RFC 8259 escapes, no control characters, valid UTF-8.
func (s *scanner) str() bool {
	d := s.data
	for i := s.pos + 1; i < len(d); {
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return true
		case c == '\\':
			if i+1 >= len(d) {
				return false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				return false
			}
			i += size
		}
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number checks a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	d, i := s.data, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || !isDigit(d[i]) {
			return false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || !isDigit(d[i]) {
			return false
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
	}
	s.pos = i
	return true
}

// ConsentItem is the item every questionnaire starts with; "0" makes a refusal record,
// in which only items that always apply may be answered.
const ConsentItem = "meta.consent"

// Validate checks the answers of env against d and returns the submission, or every
// problem found. now bounds "not in the future" months. Messages never quote an answer.
//
// It runs on the definition's plan (conditions and cross-item rules resolved to item
// indices when the catalog is loaded), keeping the state of each item in one slice rather
// than maps: every submission of every request and import row comes through here.
func Validate(d *Definition, env *Envelope, now time.Time) (*Submission, []FieldError) {
	p := d.plan
	if p == nil {
		p = compile(d) // a definition not loaded by LoadCatalog
	}
	v := newValidation(d)
	defer v.release()
	// Months are those of the people filling the forms: at 00:30 on 1 March in Brussels
	// it is still February in UTC, and March must not be "in the future".
	thisMonth := now.In(brussels).Format("2006-01")
	known := 0 // answers to items of d
	for i, it := range d.Items {
		st := &v.items[i]
		raw, answered := env.Answers[it.Code]
		if answered {
			known++
			v.parse(i, it, raw, thisMonth)
		}
		st.applies = v.applies(p.when[i], it)
		switch {
		case st.applies == unknown:
			// A condition rests on an answer that is itself in error: saying "leave it
			// out" or "required" now would mislead; the first error is reported.
			st.has, st.bad = false, true
		case answered && st.applies == no:
			if !st.bad {
				v.fail(i, ErrNotApplicable, "this item does not apply given the answers to "+conditionItems(it)+"; leave it out")
			}
			st.has = false
		case !answered && st.applies == yes && it.Required:
			v.fail(i, ErrMissingRequired, "this item is required")
		}
	}
	v.crossChecks(p)
	if known < len(env.Answers) {
		// Answers to no item of d come first, by code.
		var strangers []string
		for code := range env.Answers {
			if d.Item(code) == nil {
				strangers = append(strangers, code)
			}
		}
		slices.Sort(strangers)
		errs := make([]FieldError, 0, len(strangers)+len(v.errs))
		for _, code := range strangers {
			errs = append(errs, FieldError{Item: code, Code: ErrUnknownItem, Message: "this item is not part of " + d.ID + " version " + strconv.Itoa(d.Version)})
		}
		v.errs = append(errs, v.errs...)
	}
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	n := 0
	for i := range v.items {
		if v.items[i].has {
			n++
		}
	}
	answers := make(map[string]Value, n)
	for i, it := range d.Items {
		if v.items[i].has {
			answers[it.Code] = v.items[i].val
		}
	}
	s := &Submission{ID: env.SubmissionID, Definition: d, Site: env.Site, Answers: answers}
	if c := p.consent; c >= 0 && v.items[c].has {
		s.Consent = v.items[c].val.Code == "1"
	}
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
	def   *Definition
	items []itemState // by item index
	buf   *itemStateBuf
	errs  []FieldError
}

// itemState is what validation knows of one item.
type itemState struct {
	val     Value
	has     bool // answered, valid and applicable: val is the answer
	bad     bool // an error is reported for it
	applies applicability
	norm    string // identifier items: the normalised identifier
}

// itemStates recycles the item states of validations: 4 KiB a submission otherwise.
var itemStates = sync.Pool{New: func() any { return new(itemStateBuf) }}

type itemStateBuf struct{ items []itemState }

func newValidation(d *Definition) validation {
	buf := itemStates.Get().(*itemStateBuf)
	if cap(buf.items) < len(d.Items) {
		buf.items = make([]itemState, len(d.Items))
	}
	return validation{def: d, items: buf.items[:len(d.Items)], buf: buf}
}

// release returns the item states, cleared (they hold answers), to the pool.
func (v *validation) release() {
	clear(v.items)
	itemStates.Put(v.buf)
	v.items, v.buf = nil, nil
}

func (v *validation) fail(i int, code, msg string) {
	v.items[i].bad = true
	v.errs = append(v.errs, FieldError{Item: v.def.Items[i].Code, Code: code, Message: msg})
}

type applicability int8

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

// applies reports whether all the item's conditions hold (when holds the index of the
// item of each). A condition on an item that does not apply, or was not answered, fails;
// one on an item answered in error is unknown. Conditions are on earlier items, whose
// state is final.
func (v *validation) applies(when []int, it *Item) applicability {
	result := yes
	for k, c := range it.When {
		dep := &v.items[when[k]]
		switch {
		case dep.applies == no:
			return no
		case dep.applies == unknown || dep.bad:
			result = unknown
			continue
		}
		if !dep.has || !slices.Contains(c.In, dep.val.Code) {
			return no
		}
	}
	return result
}

func (v *validation) parse(i int, it *Item, raw json.RawMessage, thisMonth string) {
	st := &v.items[i]
	switch it.Type {
	case TypeChoice:
		s, isString := jsonText(raw)
		if !isString {
			v.fail(i, ErrWrongType, "must be one choice code, as a string")
			return
		}
		k, ok := it.choiceIndex[string(s)]
		if !ok {
			v.badCode(i, string(s))
			return
		}
		st.val, st.has = Value{Code: it.Choices[k].Code}, true
	case TypeMulti:
		if len(raw) == 0 || raw[0] != '[' {
			v.fail(i, ErrWrongType, "must be an array of choice codes (strings)")
			return
		}
		v.parseMulti(i, it, raw)
	case TypeInteger:
		if n, ok := smallInteger(raw); ok {
			switch {
			case n > 99999 || n < -99999:
				v.fail(i, ErrIdentifierLike, "this looks like an identifier or a date, not an answer; it was not stored")
			case n < int64(*it.Min) || n > int64(*it.Max):
				v.fail(i, ErrOutOfRange, fmt.Sprintf("must be between %d and %d", *it.Min, *it.Max))
			default:
				st.val, st.has = Value{Int: int(n)}, true
			}
			return
		}
		n, ok := integer(raw)
		switch {
		case !ok:
			v.fail(i, ErrWrongType, "must be a whole number")
		case n.CmpAbs(big.NewInt(99999)) > 0:
			v.fail(i, ErrIdentifierLike, "this looks like an identifier or a date, not an answer; it was not stored")
		case n.Int64() < int64(*it.Min) || n.Int64() > int64(*it.Max):
			v.fail(i, ErrOutOfRange, fmt.Sprintf("must be between %d and %d", *it.Min, *it.Max))
		default:
			st.val, st.has = Value{Int: int(n.Int64())}, true
		}
	case TypeMonth:
		s, isString := jsonText(raw)
		switch {
		case !isString:
			v.fail(i, ErrWrongType, "must be a month as a string, YYYY-MM")
		case !isMonth(s):
			v.fail(i, ErrBadMonth, "must be a month written YYYY-MM (never a full date)")
		case it.MinMonth != "" && string(s) < it.MinMonth:
			v.fail(i, ErrMonthTooEarly, "must not be before "+it.MinMonth)
		case it.NotFuture && string(s) > thisMonth:
			v.fail(i, ErrMonthFuture, "must not be in the future")
		default:
			st.val, st.has = Value{Text: string(s)}, true
		}
	case TypeIdentifier:
		s, isString := jsonString(raw)
		norm := NormaliseIdentifier(s)
		switch {
		case !isString:
			v.fail(i, ErrWrongType, "must be a string")
		case utf8.RuneCountInString(norm) < 3 || utf8.RuneCountInString(norm) > 64:
			v.fail(i, ErrOutOfRange, "must have between 3 and 64 letters or digits")
		case holdsRegisterNumber(s):
			v.fail(i, ErrIdentifierLike, "looks like a national register number (11 digits), which must never be entered; use the team's own identifier")
		default:
			st.val, st.has, st.norm = Value{Text: s}, true, norm
		}
	}
}

// parseMulti reads an array of distinct choice codes. Arrays of plain strings are read
// in place; anything else through the JSON decoder, with the same result.
func (v *validation) parseMulti(i int, it *Item, raw json.RawMessage) {
	var (
		spanBuf [64]span
		seenBuf [4]uint64
		idxBuf  [64]int
	)
	seen := seenBuf[:]
	if need := (len(it.Choices) + 63) / 64; need > len(seen) {
		seen = make([]uint64, need)
	}
	picked := idxBuf[:0]
	// check takes the next code of the list: false when it ends the parse with an error.
	check := func(code []byte) bool {
		k, ok := it.choiceIndex[string(code)]
		if !ok {
			v.badCode(i, string(code))
			return false
		}
		if seen[k/64]&(1<<(k%64)) != 0 {
			v.fail(i, ErrDuplicateChoice, "a choice is given twice")
			return false
		}
		seen[k/64] |= 1 << (k % 64)
		picked = append(picked, k)
		return true
	}
	if spans, ok := plainStringArray(raw, spanBuf[:0]); ok {
		for _, sp := range spans {
			if !check(raw[sp.from:sp.to]) {
				return
			}
		}
	} else {
		var list []string
		if json.Unmarshal(raw, &list) != nil {
			v.fail(i, ErrWrongType, "must be an array of choice codes (strings)")
			return
		}
		for _, code := range list {
			if !check([]byte(code)) {
				return
			}
		}
	}
	codes := make([]string, len(picked))
	for j, k := range picked {
		codes[j] = it.Choices[k].Code
	}
	v.items[i].val, v.items[i].has = Value{Codes: codes}, true
}

// plainStringArray reads raw when it is exactly an array of plain strings (printable
// ASCII, no escapes), appending the span of each string's text to spans. ok is false for
// anything else, which the JSON decoder must read.
func plainStringArray(raw []byte, spans []span) ([]span, bool) {
	s := scanner{data: raw, pos: 1}
	s.skipSpace()
	if s.at(']') {
		return spans, s.pos == len(raw)-1
	}
	for {
		if !s.at('"') || len(spans) == cap(spans) {
			return nil, false
		}
		from := s.pos + 1
		sp, ok := s.plainKey()
		if !ok || sp.from != from {
			return nil, false
		}
		spans = append(spans, sp)
		s.skipSpace()
		switch {
		case s.at(','):
			s.pos++
			s.skipSpace()
		case s.at(']'):
			return spans, s.pos == len(raw)-1
		default:
			return nil, false
		}
	}
}

// badCode reports an unknown code, without quoting it, and says so louder when the value
// looks like personal data typed into the wrong place.
func (v *validation) badCode(i int, code string) {
	if looksLikeIdentifier(code) {
		v.fail(i, ErrIdentifierLike, "this looks like an identifier or personal detail, not a choice code; it was not stored")
		return
	}
	v.fail(i, ErrInvalidChoice, "not one of the choice codes of this item")
}

// crossChecks applies the rules between items: subsets and upper bounds.
func (v *validation) crossChecks(p *plan) {
	for i, it := range v.def.Items {
		st := &v.items[i]
		if !st.has {
			continue
		}
		if it.SubsetOf != "" && !v.items[p.subset[i]].bad {
			var outer []string
			if o := &v.items[p.subset[i]]; o.has {
				outer = o.val.Codes
			}
			for _, c := range st.val.Codes {
				if !slices.Contains(outer, c) {
					v.fail(i, ErrNotSubset, "every choice must also be chosen in "+it.SubsetOf)
					break
				}
			}
		}
		if it.MaxItem != "" {
			if bound := &v.items[p.maxItem[i]]; bound.has && st.val.Int > bound.val.Int {
				v.fail(i, ErrAboveItem, "must not be more than the answer to "+it.MaxItem)
			}
		}
	}
}

// plainJSONString returns the text of a JSON string without escapes or bytes outside
// printable ASCII (and DEL): the bytes between the quotes.
func plainJSONString(raw []byte) ([]byte, bool) {
	n := len(raw)
	if n < 2 || raw[0] != '"' || raw[n-1] != '"' {
		return nil, false
	}
	for _, c := range raw[1 : n-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return raw[1 : n-1], true
}

// jsonText is jsonString without a copy for plain strings.
func jsonText(raw json.RawMessage) ([]byte, bool) {
	if s, ok := plainJSONString(raw); ok {
		return s, true
	}
	s, ok := jsonString(raw)
	return []byte(s), ok
}

// jsonString returns the value of a JSON string. Answers are short codes: the common
// case, without escapes, is read directly; anything else goes through the JSON decoder.
func jsonString(raw json.RawMessage) (string, bool) {
	if s, ok := plainJSONString(raw); ok {
		return string(s), true
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// isMonth reports whether s is YYYY-MM with a month from 01 to 12 (monthPattern).
func isMonth(s []byte) bool {
	if len(s) != 7 || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) || s[4] != '-' {
		return false
	}
	return s[5] == '0' && s[6] >= '1' && s[6] <= '9' || s[5] == '1' && s[6] >= '0' && s[6] <= '2'
}

// smallInteger reads the common integer answer, at most nine characters of an optional
// minus and digits (surrounding space aside), as integer does, without big numbers; ok
// is false for anything else, which integer must read.
func smallInteger(raw json.RawMessage) (int64, bool) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	neg := s[0] == '-'
	digits := s
	if neg {
		digits = s[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if !isDigit(c) {
			return 0, false
		}
		n = 10*n + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
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

// holdsRegisterNumber reports whether an identifier holds a run of 11 or more digits,
// the length of a Belgian national register number (and of a bis number), whatever
// their check digits and whatever separates them: spaces, dots, dashes and slashes
// between digits do not end a run, so "RN85073003328", "85.07.30-033.28" and
// "85/07/30 033 28" are all refused. A team's own identifier never needs 11 digits in a
// row; one that holds them is refused rather than hashed, since the hash of a register
// number could be matched by anyone who can compute it.
func holdsRegisterNumber(s string) bool {
	// As typed, and as linked: normalisation drops what could break the run in the raw
	// text (combining marks), and the link id is made from the normalised text.
	return digitRun(s) || digitRun(NormaliseIdentifier(s))
}

// digitRun reports whether s holds 11 or more digits with only separators between them.
func digitRun(s string) bool {
	run := 0
	for _, r := range s {
		switch {
		case unicode.IsDigit(r):
			if run++; run >= 11 {
				return true
			}
		case run > 0 && isDigitSeparator(r):
			// A separator between digits: the run goes on if a digit follows.
		default:
			run = 0
		}
	}
	return false
}

// isDigitSeparator reports the characters people write between the groups of a number:
// spaces of any kind, dots, dashes of any kind (a word processor turns "-" into "–"),
// the minus sign, slashes, underscores and commas, and combining marks.
func isDigitSeparator(r rune) bool {
	return unicode.IsSpace(r) || r == '.' || r == '/' || r == '\u2215' || r == '_' || r == ',' ||
		unicode.Is(unicode.Pd, r) || r == '\u2212' || unicode.Is(unicode.Mn, r)
}
