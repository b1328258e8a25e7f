// This file converts the cells of a row into the JSON answers the API would receive.

package paper

import (
	"encoding/json"
	"regexp"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector"
)

// numberPattern is what a cell must look like to be passed on as a number: digits with
// an optional minus sign, fraction and exponent. Anything else goes on as a string.
var numberPattern = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// answer converts a cell to the JSON answer the API would receive for the item. It only
// converts; every check is Validate's, so a value it cannot make sense of is passed on as
// a string and refused there with the API's code and message.
func answer(it *collector.Item, cell string, src source) json.RawMessage {
	return appendAnswer(nil, it, cell, src)
}

// appendAnswer appends answer(it, cell, src) to dst: a row's answers share one buffer.
func appendAnswer(dst []byte, it *collector.Item, cell string, src source) []byte {
	switch it.Type {
	case collector.TypeChoice:
		return appendJSONString(dst, choiceCode(it, cell))
	case collector.TypeMulti:
		dst = append(dst, '[')
		if cell != noneMark {
			first := true
			for part := range strings.FieldsFuncSeq(cell, func(r rune) bool { return r == ';' || r == ',' || r == '\n' }) {
				if part = strings.TrimSpace(part); part != "" {
					if !first {
						dst = append(dst, ',')
					}
					first = false
					dst = appendJSONString(dst, choiceCode(it, part))
				}
			}
		}
		return append(dst, ']')
	case collector.TypeInteger:
		if isNumber(cell) {
			return append(dst, cell...)
		}
	case collector.TypeMonth:
		if m, ok := src.month(cell); ok {
			return appendJSONString(dst, m)
		}
	}
	return appendJSONString(dst, cell)
}

// isNumber reports whether s matches numberPattern, without the regular expression: it
// is asked for every number of every row.
func isNumber(s string) bool {
	i := 0
	digits := func() bool {
		from := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > from
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// jsonString is s as a JSON string.
func jsonString(s string) json.RawMessage { return appendJSONString(nil, s) }

// appendJSONString appends s as a JSON string, escaped as encoding/json escapes it.
func appendJSONString(dst []byte, s string) []byte {
	if plainASCII(s) { // the common case, codes and months: no escaping, no reflection
		return append(append(append(dst, '"'), s...), '"')
	}
	raw, _ := json.Marshal(s)
	return append(dst, raw...)
}

// plainASCII reports whether s is a JSON string as it is: printable ASCII that
// encoding/json would not escape.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// choiceCode returns the code of a cell: the text before " — " of a dropdown entry, and,
// for a code typed in another case, the item's code if only one matches.
func choiceCode(it *collector.Item, cell string) string {
	code := cell
	if strings.IndexByte(cell, ' ') >= 0 { // every separator holds a space; codes do not
		for _, sep := range choiceSeparators {
			if before, _, ok := strings.Cut(cell, sep); ok {
				code = strings.TrimSpace(before)
				break
			}
		}
	}
	if _, ok := it.Choice(code); ok {
		return code
	}
	match := ""
	for _, ch := range it.Choices {
		if strings.EqualFold(ch.Code, code) {
			if match != "" {
				return code
			}
			match = ch.Code
		}
	}
	if match != "" {
		return match
	}
	return code
}

// choiceSeparators end the code of a dropdown entry: the template's, and the dashes a
// spreadsheet or a typist puts instead.
var choiceSeparators = []string{choiceSeparator, " – ", " - "}
