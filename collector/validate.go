// This file checks an envelope against its questionnaire: types, choices, conditions,
// cross-item rules, and answers that look like personal data.

package collector

import (
	"bytes"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Brussels on machines without zoneinfo
	"unicode"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

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
	// The consent first: a refusal records the consent and the month that dates it,
	// nothing else, whatever the conditions of a definition say (every built-in item
	// asks for consent; a file's might not).
	order := make([]int, 0, len(d.Items))
	if p.consent >= 0 {
		order = append(order, p.consent)
	}
	for i := range d.Items {
		if i != p.consent {
			order = append(order, i)
		}
	}
	refused := false
	for _, i := range order {
		it := d.Items[i]
		st := &v.items[i]
		raw, answered := env.Answers[it.Code]
		if answered {
			known++
			v.parse(i, it, raw, thisMonth)
		}
		st.applies = v.applies(p.when[i], it)
		if refused && it.Code != d.period && st.applies == yes {
			st.applies = no
		}
		if i == p.consent {
			refused = st.has && st.val.Code == "0"
		}
		switch {
		case st.applies == unknown:
			// A condition rests on an answer that is itself in error: saying "leave it
			// out" or "required" now would mislead; the first error is reported.
			st.has, st.bad = false, true
		case answered && st.applies == no:
			if !st.bad {
				cond := conditionItems(it)
				if refused && len(it.When) == 0 {
					cond = ConsentItem
				}
				v.fail(i, ErrNotApplicable, "api.item.not_applicable", cond)
			}
			st.has = false
		case !answered && st.applies == yes && it.Required:
			v.fail(i, ErrMissingRequired, "api.item.required")
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
			errs = append(errs, FieldError{Item: code, Code: ErrUnknownItem, Key: "api.item.unknown", Args: []any{d.ID, d.Version},
				Message: words.EN.T("api.item.unknown", d.ID, d.Version)})
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

// fail records a problem of item i: its code, and its message as a catalogue key (the
// API answers it in the client's language; Message is the English one).
func (v *validation) fail(i int, code, key string, args ...any) {
	v.items[i].bad = true
	v.errs = append(v.errs, FieldError{Item: v.def.Items[i].Code, Code: code, Key: key, Args: args, Message: words.EN.T(key, args...)})
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
			v.fail(i, ErrWrongType, "api.item.one_choice")
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
			v.fail(i, ErrWrongType, "api.item.choice_array")
			return
		}
		v.parseMulti(i, it, raw)
	case TypeInteger:
		if n, ok := smallInteger(raw); ok {
			switch {
			case n > 99999 || n < -99999:
				v.fail(i, ErrIdentifierLike, "api.item.identifier_like")
			case n < int64(*it.Min) || n > int64(*it.Max):
				v.fail(i, ErrOutOfRange, "api.item.between", *it.Min, *it.Max)
			default:
				st.val, st.has = Value{Int: int(n)}, true
			}
			return
		}
		n, ok := integer(raw)
		switch {
		case !ok:
			v.fail(i, ErrWrongType, "api.item.whole_number")
		case n.CmpAbs(big.NewInt(99999)) > 0:
			v.fail(i, ErrIdentifierLike, "api.item.identifier_like")
		case n.Int64() < int64(*it.Min) || n.Int64() > int64(*it.Max):
			v.fail(i, ErrOutOfRange, "api.item.between", *it.Min, *it.Max)
		default:
			st.val, st.has = Value{Int: int(n.Int64())}, true
		}
	case TypeMonth:
		s, isString := jsonText(raw)
		switch {
		case !isString:
			v.fail(i, ErrWrongType, "api.item.month_string")
		case !isMonth(s):
			v.fail(i, ErrBadMonth, "api.item.month_format")
		case it.MinMonth != "" && string(s) < it.MinMonth:
			v.fail(i, ErrMonthTooEarly, "api.item.month_too_early", it.MinMonth)
		case it.NotFuture && string(s) > thisMonth:
			v.fail(i, ErrMonthFuture, "api.item.month_future")
		default:
			st.val, st.has = Value{Text: string(s)}, true
		}
	case TypeIdentifier:
		s, isString := jsonString(raw)
		norm := NormaliseIdentifier(s)
		switch {
		case !isString:
			v.fail(i, ErrWrongType, "api.item.string")
		case utf8.RuneCountInString(norm) < 3 || utf8.RuneCountInString(norm) > 64:
			v.fail(i, ErrOutOfRange, "api.item.key_length")
		case holdsRegisterNumber(s):
			v.fail(i, ErrIdentifierLike, "api.item.national_number")
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
			v.fail(i, ErrDuplicateChoice, "api.item.choice_twice")
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
		if gojson.Unmarshal(raw, &list) != nil {
			v.fail(i, ErrWrongType, "api.item.choice_array")
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

// badCode reports an unknown code, without quoting it, and says so louder when the value
// looks like personal data typed into the wrong place.
func (v *validation) badCode(i int, code string) {
	if looksLikeIdentifier(code) {
		v.fail(i, ErrIdentifierLike, "api.item.personal_detail")
		return
	}
	v.fail(i, ErrInvalidChoice, "api.item.not_a_choice")
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
					v.fail(i, ErrNotSubset, "api.item.subset", it.SubsetOf)
					break
				}
			}
		}
		if it.MaxItem != "" {
			if bound := &v.items[p.maxItem[i]]; bound.has && st.val.Int > bound.val.Int {
				v.fail(i, ErrAboveItem, "api.item.above", it.MaxItem)
			}
		}
	}
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
