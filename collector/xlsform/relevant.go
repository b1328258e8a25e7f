package xlsform

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/tamtam-ngo/tamtam/collector"
)

// The relevant expressions a definition can express: a conjunction of "the answer to an
// earlier choice item is one of these codes". Disjunctions are kept only on one question
// (${x} = 'a' or ${x} = 'b' is x in {a, b}), and not(…) only on one question, as the other
// codes of that question (with the missing codes 8 and 9 tamtam adds to choice items).

var errSubset = errors.New("supported: ${x} = 'a', ${x} != 'a', selected(${x}, 'a'), and, or on one question, not(…) on one question")

// conj is a conjunction of code sets, in the order of their items.
type conj struct {
	items []string
	in    map[string][]string
}

func (c *converter) relevant(expr string) ([]collector.Condition, error) {
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{c: c, toks: toks}
	v, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q; %w", p.toks[p.pos], errSubset)
	}
	var out []collector.Condition
	for _, code := range v.items {
		out = append(out, collector.Condition{Item: code, In: v.in[code]})
	}
	return out, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		r := rune(s[i])
		switch {
		case unicode.IsSpace(r):
			i++
		case strings.HasPrefix(s[i:], "${"):
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("unclosed ${")
			}
			toks = append(toks, s[i:i+j+1])
			i += j + 1
		case r == '\'' || r == '"':
			j := strings.IndexByte(s[i+1:], s[i])
			if j < 0 {
				return nil, fmt.Errorf("unclosed quote")
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		case strings.HasPrefix(s[i:], "!="):
			toks = append(toks, "!=")
			i += 2
		case strings.ContainsRune("(),=", r):
			toks = append(toks, string(r))
			i++
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '-' || s[j] == '_' || s[j] == '.') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("operator %q is not supported; %w", s[i:i+1], errSubset)
		}
	}
	return toks, nil
}

type parser struct {
	c    *converter
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string { t := p.peek(); p.pos++; return t }

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("expected %q, found %q; %w", t, got, errSubset)
	}
	return nil
}

func (p *parser) or() (conj, error) {
	v, err := p.and()
	if err != nil {
		return v, err
	}
	for p.peek() == "or" {
		p.next()
		w, err := p.and()
		if err != nil {
			return v, err
		}
		if len(v.items) != 1 || len(w.items) != 1 || v.items[0] != w.items[0] {
			return v, fmt.Errorf("or joins conditions on one question only (a definition's conditions must all hold)")
		}
		code := v.items[0]
		for _, x := range w.in[code] {
			if !slices.Contains(v.in[code], x) {
				v.in[code] = append(v.in[code], x)
			}
		}
	}
	return v, nil
}

func (p *parser) and() (conj, error) {
	v, err := p.unary()
	if err != nil {
		return v, err
	}
	for p.peek() == "and" {
		p.next()
		w, err := p.unary()
		if err != nil {
			return v, err
		}
		for _, code := range w.items {
			if _, dup := v.in[code]; dup {
				return v, fmt.Errorf("and tests %s twice", code)
			}
			v.items = append(v.items, code)
			v.in[code] = w.in[code]
		}
	}
	return v, nil
}

func (p *parser) unary() (conj, error) {
	switch p.peek() {
	case "not":
		p.next()
		if err := p.expect("("); err != nil {
			return conj{}, err
		}
		v, err := p.or()
		if err != nil {
			return v, err
		}
		if err := p.expect(")"); err != nil {
			return v, err
		}
		if len(v.items) != 1 {
			return v, fmt.Errorf("not(…) applies to conditions on one question only")
		}
		code := v.items[0]
		var rest []string
		for _, ch := range p.c.codes(code) {
			if !slices.Contains(v.in[code], ch) {
				rest = append(rest, ch)
			}
		}
		if len(rest) == 0 {
			return v, fmt.Errorf("not(…) excludes every answer of %s", code)
		}
		v.in[code] = rest
		return v, nil
	case "(":
		p.next()
		v, err := p.or()
		if err != nil {
			return v, err
		}
		return v, p.expect(")")
	case "selected":
		p.next()
		if err := p.expect("("); err != nil {
			return conj{}, err
		}
		it, err := p.ref()
		if err != nil {
			return conj{}, err
		}
		if err := p.expect(","); err != nil {
			return conj{}, err
		}
		code, err := p.value(it)
		if err != nil {
			return conj{}, err
		}
		if err := p.expect(")"); err != nil {
			return conj{}, err
		}
		return conj{items: []string{it.Code}, in: map[string][]string{it.Code: {code}}}, nil
	}
	it, err := p.ref()
	if err != nil {
		return conj{}, err
	}
	op := p.next()
	if op != "=" && op != "!=" {
		return conj{}, fmt.Errorf("operator %q is not supported; %w", op, errSubset)
	}
	code, err := p.value(it)
	if err != nil {
		return conj{}, err
	}
	in := []string{code}
	if op == "!=" {
		in = nil
		for _, ch := range p.c.codes(it.Code) {
			if ch != code {
				in = append(in, ch)
			}
		}
	}
	return conj{items: []string{it.Code}, in: map[string][]string{it.Code: in}}, nil
}

// ref reads ${name}: an earlier select_one.
func (p *parser) ref() (*Item, error) {
	t := p.next()
	if !strings.HasPrefix(t, "${") {
		return nil, fmt.Errorf("expected ${question}, found %q; %w", t, errSubset)
	}
	name := t[2 : len(t)-1]
	it := p.c.byName[name]
	switch {
	case it == nil:
		return nil, fmt.Errorf("${%s} is not an earlier question", name)
	case it.Type == collector.TypeMulti:
		return nil, fmt.Errorf("${%s} is a select_multiple: conditions can only test a select_one", name)
	case it.Type != collector.TypeChoice:
		return nil, fmt.Errorf("${%s} is not a select_one: conditions can only test a select_one", name)
	}
	return it, nil
}

// value reads a quoted (or numeric) choice code of it.
func (p *parser) value(it *Item) (string, error) {
	t := p.next()
	v := t
	if len(t) >= 2 && (t[0] == '\'' || t[0] == '"') {
		v = t[1 : len(t)-1]
	} else if t == "" || !unicode.IsDigit(rune(t[0])) {
		return "", fmt.Errorf("expected a quoted choice, found %q; %w", t, errSubset)
	}
	if !slices.Contains(p.c.codes(it.Code), v) {
		return "", fmt.Errorf("%q is not a choice of %s", v, it.Code)
	}
	return v, nil
}

// codes returns the codes an answer to the choice item code can have once loaded: its
// choices, and 8 and 9 except on the consent item.
func (c *converter) codes(code string) []string {
	it := c.itemByCode(code)
	if it == nil {
		return nil
	}
	var out []string
	for _, ch := range it.Choices {
		out = append(out, ch.Code)
	}
	if code != collector.ConsentItem && it.Type == collector.TypeChoice {
		for _, m := range []string{"8", "9"} {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}
