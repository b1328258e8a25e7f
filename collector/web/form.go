package web

import (
	"encoding/json"
	"math/big"
	"net/url"
	"strconv"
	"strings"

	"github.com/tamtam-ngo/tamtam/collector"
)

// maxRadios is the most choices shown as radio buttons; a longer list (countries) is a
// drop-down list.
const maxRadios = 8

// form is the model of a questionnaire page: the definition laid out in sections, with
// the answers given so far and the problems found, in one language. It is built from the
// definition alone: no item is written by hand in a template.
type form struct {
	Definition   *collector.Definition
	Title        string
	Description  string
	SubmissionID string
	Version      int
	Sites        []option // the sites the token may submit for, the chosen one checked
	SiteError    string
	Sections     []*formSection
	Errors       []formError // every problem, in the order of the items, for the summary
	Notice       string      // a problem of the form as a whole (conflict, store unavailable)
	NoticeLink   string      // where to go from the notice ("" for none)
}

type formSection struct {
	Code  string
	Items []*formItem
}

// formItem is one question. Control is the widget: radio, select, checkbox, number,
// month or text.
type formItem struct {
	Code, ID, Label, Hint string
	Control               string
	Required              bool // required whenever it applies
	Conditional           bool // applies only under conditions (When)
	When                  string
	OnlyIf                string // the condition in words, for readers without the script
	Choices               []option
	Value                 string // number, month, text, select
	Min, Max              string
	Errors                []string
	NoAnswer              bool   // offer "no answer" (radio items that may be left empty)
	Describe              string // ids of the hint, condition and errors, for aria-describedby
	W                     *itemWords
}

// itemWords are the words around every item, in the form's language.
type itemWords struct{ Required, RequiredIf, NoAnswer, Choose, MonthFormat string }

// option is one choice of an item, or a site.
type option struct {
	Value, Label, Hint, ID string
	Checked                bool
}

// formError links the summary at the top to the item it is about.
type formError struct {
	ID, Label, Message string
}

// newForm lays out definition d in lang with the answers of values (the posted form, or
// empty) and the field errors ferrs.
func newForm(d *collector.Definition, lang string, values url.Values, ferrs []collector.FieldError) *form {
	f := &form{Definition: d, Title: d.Title.In(lang), Description: d.Description.In(lang), Version: d.Version}
	byItem := map[string][]string{}
	for _, fe := range ferrs {
		it := d.Item(fe.Item)
		msg := fieldMessage(fe, it, lang)
		if it != nil && fe.Code == collector.ErrWrongType {
			msg = fieldMessage(collector.FieldError{Code: errOneChoice}, it, lang)
			if it.Type == collector.TypeInteger {
				msg = fieldMessage(collector.FieldError{Code: errNotNumber}, it, lang)
			}
		}
		switch {
		case it != nil:
			byItem[fe.Item] = append(byItem[fe.Item], msg)
		case fe.Item == "site":
			f.SiteError = msg
			f.Errors = append(f.Errors, formError{ID: "f-site", Label: word("site", lang), Message: msg})
		default:
			f.Errors = append(f.Errors, formError{Label: fe.Item, Message: msg})
		}
	}
	w := &itemWords{Required: word("required", lang), RequiredIf: word("required_if", lang), NoAnswer: word("no_answer", lang),
		Choose: word("choose", lang), MonthFormat: word("month_format", lang)}
	var sec *formSection
	for _, it := range d.Items {
		if sec == nil || sec.Code != it.Section {
			sec = &formSection{Code: it.Section}
			f.Sections = append(f.Sections, sec)
		}
		fi := newFormItem(d, it, lang, values[it.Code])
		fi.Errors = byItem[it.Code]
		fi.W = w
		var describe []string
		if fi.Hint != "" {
			describe = append(describe, fi.ID+"-hint")
		}
		if fi.OnlyIf != "" {
			describe = append(describe, fi.ID+"-if")
		}
		for i := range fi.Errors {
			describe = append(describe, fi.ID+"-err"+strconv.Itoa(i))
		}
		fi.Describe = strings.Join(describe, " ")
		for _, m := range fi.Errors {
			f.Errors = append(f.Errors, formError{ID: fi.ID, Label: fi.Label, Message: m})
		}
		sec.Items = append(sec.Items, fi)
	}
	return f
}

func newFormItem(d *collector.Definition, it *collector.Item, lang string, given []string) *formItem {
	fi := &formItem{Code: it.Code, ID: "f-" + strings.ReplaceAll(it.Code, ".", "-"), Label: it.Label.In(lang),
		Required: it.Required, Conditional: len(it.When) > 0}
	if it.Hint != nil {
		fi.Hint = it.Hint.In(lang)
	}
	if len(it.When) > 0 {
		b, _ := json.Marshal(it.When)
		fi.When = string(b)
		fi.OnlyIf = onlyIf(d, it, lang)
	}
	chosen := map[string]bool{}
	for _, v := range given {
		if v != "" {
			chosen[v] = true
		}
	}
	switch it.Type {
	case collector.TypeChoice, collector.TypeMulti:
		fi.Control = "checkbox"
		if it.Type == collector.TypeChoice {
			fi.Control = "radio"
			if len(it.Choices) > maxRadios {
				fi.Control = "select"
			}
			// Without the script a chosen radio button cannot be cleared: a question that
			// may be left empty, or may stop applying, offers "no answer".
			fi.NoAnswer = fi.Control == "radio" && (!fi.Required || fi.Conditional)
		}
		for i, ch := range it.Choices {
			o := option{Value: ch.Code, Label: ch.Label.In(lang), ID: fi.ID + "-" + strconv.Itoa(i), Checked: chosen[ch.Code]}
			if ch.Hint != nil {
				o.Hint = ch.Hint.In(lang)
			}
			fi.Choices = append(fi.Choices, o)
		}
	case collector.TypeInteger:
		fi.Control = "number"
		if it.Min != nil {
			fi.Min = strconv.Itoa(*it.Min)
		}
		if it.Max != nil {
			fi.Max = strconv.Itoa(*it.Max)
		}
	case collector.TypeMonth:
		fi.Control = "month"
		fi.Min = it.MinMonth
	default:
		fi.Control = "text"
	}
	if len(given) > 0 {
		fi.Value = given[0]
	}
	return fi
}

// onlyIf writes the conditions of an item in words: «question» : answer or answer.
func onlyIf(d *collector.Definition, it *collector.Item, lang string) string {
	var parts []string
	for _, cond := range it.When {
		ref := d.Item(cond.Item)
		if ref == nil {
			continue
		}
		var answers []string
		for _, code := range cond.In {
			if ch, ok := ref.Choice(code); ok {
				answers = append(answers, ch.Label.In(lang))
			}
		}
		q := quotes[lang]
		parts = append(parts, q[0]+question(ref.Label.In(lang))+q[1]+q[2]+strings.Join(answers, " "+word("or", lang)+" "))
	}
	return word("only_if", lang) + " " + strings.Join(parts, " "+word("and", lang)+" ")
}

// quotes are the opening and closing quotation marks of each language, and the colon
// after them.
var quotes = map[string][3]string{
	"fr": {"«\u00a0", "\u00a0»", "\u00a0: "},
	"nl": {"„", "”", ": "},
	"en": {"“", "”", ": "},
}

// question shortens a label to its question, dropping the explanations after it:
// "Do you agree to answer these questions? It is anonymous…" -> "Do you agree to answer
// these questions?".
func question(label string) string {
	if i := strings.IndexByte(label, '?'); i > 0 && i < len(label)-1 {
		return label[:i+1]
	}
	return label
}

// envelope turns a posted form into an envelope, as an API client would have sent it.
// Form controls are named by item code and valued by choice code (DESIGN.md §3). An empty
// control is no answer. A number field that holds no number, or two values for a
// one-answer item, is passed on as it is, with the wrong JSON type, so that validation
// reports it beside its item like any other problem.
func envelope(d *collector.Definition, values url.Values) *collector.Envelope {
	env := &collector.Envelope{SubmissionID: values.Get("submission_id"), Questionnaire: d.ID, Site: values.Get("site"),
		Version: d.Version, Answers: map[string]json.RawMessage{}}
	if v, err := strconv.Atoi(values.Get("version")); err == nil {
		env.Version = v
	}
	for _, it := range d.Items {
		var given []string
		for _, v := range values[it.Code] {
			if v = strings.TrimSpace(v); v != "" {
				given = append(given, v)
			}
		}
		if len(given) == 0 {
			continue
		}
		var raw []byte
		switch {
		case it.Type == collector.TypeMulti || len(given) > 1:
			raw, _ = json.Marshal(given)
		case it.Type == collector.TypeInteger:
			// Digits are a number, however long, as an API client would send it: the
			// validator then says "out of range", or "looks like an identifier".
			if n, ok := new(big.Int).SetString(given[0], 10); ok {
				raw = []byte(n.String())
			} else {
				raw, _ = json.Marshal(given[0])
			}
		default:
			raw, _ = json.Marshal(given[0])
		}
		env.Answers[it.Code] = raw
	}
	return env
}
