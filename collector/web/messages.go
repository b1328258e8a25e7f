package web

import (
	"strconv"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// The words of the pages are in the catalogue (package words, texts/pages.json and
// texts/fields.json). Questionnaire texts come from the definitions; the catalogue holds
// only the words around them. Plain language: the people who read them work in a prison
// office, often in their second language.

// errNotNumber and errOneChoice are problems the page finds before validation: a number
// field holding something else, two values for a one-answer question (a tampered form).
const (
	errNotNumber = collector.ErrWrongType + "/number"
	errOneChoice = collector.ErrWrongType + "/choice"
)

// fieldKey is the catalogue key explaining a field error code beside the item.
func fieldKey(code string) string { return "field." + strings.ReplaceAll(code, "/", ".") }

// explained reports whether the pages have their own words for a field error code.
func explained(code string) bool { return words.Has(fieldKey(code)) }

// fieldMessage returns the plain explanation of a field error for item it (nil for an
// envelope field), in lang. A range gets its bounds; an unknown code falls back to the
// English message of the validator.
func fieldMessage(fe collector.FieldError, it *collector.Item, lang string) string {
	if fe.Code == collector.ErrOutOfRange && it != nil && it.Min != nil && it.Max != nil {
		return words.Lang(lang).T("field.out_of_range_between", strconv.Itoa(*it.Min), strconv.Itoa(*it.Max))
	}
	if explained(fe.Code) {
		return words.Lang(lang).T(fieldKey(fe.Code))
	}
	return fe.Message
}

// word returns the page text key in lang; a missing key shows itself ("[key]"), so that
// a test notices it.
func word(key, lang string) string { return words.Lang(lang).T(key) }
