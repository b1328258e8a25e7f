// This file decodes the body of a submission into an Envelope. Three JSON readers take
// part, each for a reason:
//   - the scanner of jsonscan.go reads the bodies clients actually send in one pass,
//     without allocating, and gives up on anything else;
//   - encoding/json's Valid (with utf8.Valid) defines a well-formed body: the general
//     path checks it before decoding anything, and the scanner is held to it;
//   - goccy/go-json (imported as gojson) decodes the general path's tokens, the strings
//     with escapes, and whole batch bodies (decodeBatch reads {"submissions":[…]} with
//     newDecoder and jsonObject): encoding/json's semantics at well under half the CPU, but
//     it does not check syntax, hence Valid first.
//
// None is redundant: the scanner does not read everything, Valid does not decode, and
// encoding/json's decoder takes about 2.5 times the CPU on a batch body (100 submissions:
// 0.93 ms against 0.38 ms on the development machine).

package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
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

// jsonObject reads one JSON object from dec and returns its keys in order, their values,
// and the keys given more than once. encoding/json keeps the last of duplicate keys
// silently, which would let two different answers hide in one body: callers refuse them.
func jsonObject(dec *gojson.Decoder) (keys []string, vals map[string]json.RawMessage, dups []string, err error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, err
	}
	if d, ok := tok.(gojson.Delim); !ok || d != '{' {
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

func newDecoder(data []byte) *gojson.Decoder {
	dec := gojson.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec
}

// wellFormed checks the syntax and the encoding of a body before it is decoded: the
// decoder used for speed (goccy/go-json) does not check a token stream's syntax, and
// neither it nor encoding/json refuses invalid UTF-8, which must not reach a site code
// or an identifier.
func wellFormed(data []byte) bool {
	return utf8.Valid(data) && json.Valid(data)
}

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
		return nil, []FieldError{{Code: ErrMalformed, Key: "api.field.not_json", Message: "the body is not valid JSON in UTF-8"}}
	}
	dec := newDecoder(data)
	env, errs := decodeEnvelope(dec)
	if errs == nil {
		if _, err := dec.Token(); err != io.EOF {
			return nil, []FieldError{{Code: ErrMalformed, Key: "api.field.one_object", Message: "the body must hold exactly one JSON object"}}
		}
	}
	return env, errs
}

func decodeEnvelope(dec *gojson.Decoder) (*Envelope, []FieldError) {
	keys, vals, dups, err := jsonObject(dec)
	if err != nil {
		return nil, []FieldError{{Code: ErrMalformed, Key: "api.field.not_submission", Message: "the body is not a valid JSON submission object"}}
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
		errs = append(errs, FieldError{Item: k, Code: ErrDuplicateKey, Key: "api.field.given_twice", Message: "this field is given twice"})
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
			errs = append(errs, FieldError{Item: name, Code: ErrMissingField, Key: "api.field.required", Message: "this field is required"})
			return
		}
		if s, ok := plainJSONString(raw); ok {
			*dst = string(s)
		} else if err := gojson.Unmarshal(raw, dst); err != nil {
			*dst = ""
		}
		if *dst == "" {
			errs = append(errs, FieldError{Item: name, Code: ErrWrongType, Key: "api.field.non_empty_string", Message: "must be a non-empty string"})
		}
	}
	str("submission_id", &env.SubmissionID)
	str("questionnaire", &env.Questionnaire)
	str("site", &env.Site)
	if raw, ok := vals["version"]; !ok {
		errs = append(errs, FieldError{Item: "version", Code: ErrMissingField, Key: "api.field.required", Message: "this field is required"})
	} else if v, err := strconv.Atoi(string(raw)); err != nil || v < 1 {
		errs = append(errs, FieldError{Item: "version", Code: ErrWrongType, Key: "api.field.positive_number", Message: "must be a positive whole number"})
	} else {
		env.Version = v
	}
	if env.SubmissionID != "" {
		if id, err := uuid.Parse(env.SubmissionID); err != nil || len(env.SubmissionID) != 36 {
			errs = append(errs, FieldError{Item: "submission_id", Code: ErrInvalidID, Key: "api.field.uuid", Message: "must be a UUID chosen by the client, like 0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f"})
		} else {
			env.SubmissionID = id.String()
		}
	}
	if raw, ok := vals["answers"]; !ok {
		errs = append(errs, FieldError{Item: "answers", Code: ErrMissingField, Key: "api.field.required", Message: "this field is required"})
	} else {
		answers, dups, err := answers(raw)
		if err != nil {
			errs = append(errs, FieldError{Item: "answers", Code: ErrWrongType, Key: "api.field.answers_object", Message: "must be an object of item code to answer"})
		}
		for _, k := range dups {
			errs = append(errs, FieldError{Item: k, Code: ErrDuplicateKey, Key: "api.field.answered_twice", Message: "this item is answered twice"})
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
