// This file is the hand-written JSON reader of the fast path: a scanner of the subset
// clients write, and the readers of plain strings and arrays that spare the decoder the
// common answers.

package collector

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

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
	if len(raw) == 0 || raw[0] != '"' || gojson.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
