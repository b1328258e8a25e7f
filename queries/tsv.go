package queries

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The text form of the rows of a backup: ClickHouse's TabSeparated format, which every
// ClickHouse version reads and writes alike (so a table file of a backup can also be
// loaded with clickhouse-client … FORMAT TabSeparatedWithNamesAndTypes). One row a line,
// fields separated by tabs; in strings, the bytes \b \f \n \r \t \0 \\ and ' are written
// as backslash escapes, so a field never holds a raw tab or newline; arrays are written
// [x,y] with strings quoted in single quotes. Times are written in UTC, to the second.
// The encoding is exact: any byte string, any number of the column's type, comes back
// unchanged, which is what lets a restore compare checksums with the backup.

// scalarKind is the kind of a column's values (of its elements, for an array).
type scalarKind int

const (
	kindString scalarKind = iota
	kindUInt
	kindInt
	kindFloat
	kindDate
	kindDateTime
)

// colType is a ClickHouse column type a backup can write and read back.
type colType struct {
	name  string // as the server names it, e.g. "Array(String)"
	kind  scalarKind
	bits  int // of integers and floats
	array bool
	elem  reflect.Type // the Go type of a value (of an element, for an array)
}

const (
	dateLayout     = "2006-01-02"
	dateTimeLayout = "2006-01-02 15:04:05"
)

var timeType = reflect.TypeOf(time.Time{})

// parseColType reads a type name. Only the types tamtam's schema uses, and their close
// relatives, are known: a backup of a column of another type is refused, not guessed.
func parseColType(name string) (colType, error) {
	t := colType{name: name}
	inner := name
	if s, ok := strings.CutPrefix(name, "Array("); ok && strings.HasSuffix(s, ")") {
		t.array, inner = true, strings.TrimSuffix(s, ")")
	}
	switch {
	case inner == "String":
		t.kind, t.elem = kindString, reflect.TypeOf("")
	case inner == "Date":
		t.kind, t.elem = kindDate, timeType
	case inner == "DateTime" || strings.HasPrefix(inner, "DateTime('"):
		t.kind, t.elem = kindDateTime, timeType
	default:
		kinds := map[string]reflect.Type{
			"UInt8": reflect.TypeOf(uint8(0)), "UInt16": reflect.TypeOf(uint16(0)),
			"UInt32": reflect.TypeOf(uint32(0)), "UInt64": reflect.TypeOf(uint64(0)),
			"Int8": reflect.TypeOf(int8(0)), "Int16": reflect.TypeOf(int16(0)),
			"Int32": reflect.TypeOf(int32(0)), "Int64": reflect.TypeOf(int64(0)),
			"Float32": reflect.TypeOf(float32(0)), "Float64": reflect.TypeOf(float64(0)),
		}
		e, ok := kinds[inner]
		if !ok {
			return t, fmt.Errorf("type %s is not one a backup knows", name)
		}
		t.elem, t.bits = e, e.Bits()
		switch e.Kind() {
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			t.kind = kindUInt
		case reflect.Float32, reflect.Float64:
			t.kind = kindFloat
		default:
			t.kind = kindInt
		}
	}
	return t, nil
}

// goType is the type the driver scans a value of t into and appends it from.
func (t colType) goType() reflect.Type {
	if t.array {
		return reflect.SliceOf(t.elem)
	}
	return t.elem
}

// appendField appends the text of v, a value of t's Go type, to buf.
func (t colType) appendField(buf []byte, v reflect.Value) []byte {
	if !t.array {
		return t.appendScalar(buf, v, false)
	}
	buf = append(buf, '[')
	for i := range v.Len() {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = t.appendScalar(buf, v.Index(i), true)
	}
	return append(buf, ']')
}

// appendScalar appends one value; quoted, as an array element, strings and times are in
// single quotes.
func (t colType) appendScalar(buf []byte, v reflect.Value, quoted bool) []byte {
	switch t.kind {
	case kindString:
		if quoted {
			return append(appendEscaped(append(buf, '\''), v.String()), '\'')
		}
		return appendEscaped(buf, v.String())
	case kindUInt:
		return strconv.AppendUint(buf, v.Uint(), 10)
	case kindInt:
		return strconv.AppendInt(buf, v.Int(), 10)
	case kindFloat:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return append(buf, "nan"...)
		case math.IsInf(f, 1):
			return append(buf, "inf"...)
		case math.IsInf(f, -1):
			return append(buf, "-inf"...)
		}
		return strconv.AppendFloat(buf, f, 'g', -1, t.bits)
	}
	tm := v.Interface().(time.Time)
	layout := dateTimeLayout
	if t.kind == kindDate {
		layout = dateLayout
	} else {
		tm = tm.UTC()
	}
	if quoted {
		return append(tm.AppendFormat(append(buf, '\''), layout), '\'')
	}
	return tm.AppendFormat(buf, layout)
}

// appendEscaped appends s with the escapes of TabSeparated.
func appendEscaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			buf = append(buf, `\b`...)
		case '\f':
			buf = append(buf, `\f`...)
		case '\n':
			buf = append(buf, `\n`...)
		case '\r':
			buf = append(buf, `\r`...)
		case '\t':
			buf = append(buf, `\t`...)
		case 0:
			buf = append(buf, `\0`...)
		case '\\':
			buf = append(buf, `\\`...)
		case '\'':
			buf = append(buf, `\'`...)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

var errBadEscape = errors.New("bad escape")

// unescape reverses appendEscaped over all of b.
func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i++; i == len(b) {
			return "", errBadEscape
		}
		switch b[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\', '\'':
			out = append(out, b[i])
		default:
			return "", errBadEscape
		}
	}
	return string(out), nil
}

// parseField reads the text of one field as a value of t's Go type.
func (t colType) parseField(b []byte) (any, error) {
	if !t.array {
		v, err := t.parseScalar(b)
		if err != nil {
			return nil, err
		}
		return v.Interface(), nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, fmt.Errorf("%s: not an array", t.name)
	}
	out := reflect.MakeSlice(reflect.SliceOf(t.elem), 0, 8)
	rest := b[1 : len(b)-1]
	for len(rest) > 0 {
		var elem []byte
		if t.kind == kindString || t.kind == kindDate || t.kind == kindDateTime {
			end, err := quotedEnd(rest)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			elem, rest = rest[1:end], rest[end+1:]
		} else {
			i := bytes.IndexByte(rest, ',')
			if i < 0 {
				i = len(rest)
			}
			elem, rest = rest[:i], rest[i:]
		}
		v, err := t.parseScalar(elem)
		if err != nil {
			return nil, err
		}
		out = reflect.Append(out, v)
		if len(rest) > 0 {
			if rest[0] != ',' || len(rest) == 1 {
				return nil, fmt.Errorf("%s: elements not separated by a comma", t.name)
			}
			rest = rest[1:]
		}
	}
	return out.Interface(), nil
}

// quotedEnd returns the index of the quote that closes the quoted element b starts with.
func quotedEnd(b []byte) (int, error) {
	if len(b) == 0 || b[0] != '\'' {
		return 0, errors.New("element not quoted")
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '\'':
			return i, nil
		}
	}
	return 0, errors.New("quote not closed")
}

func (t colType) parseScalar(b []byte) (reflect.Value, error) {
	v := reflect.New(t.elem).Elem()
	switch t.kind {
	case kindString:
		s, err := unescape(b)
		if err != nil {
			return v, fmt.Errorf("%s: %w", t.name, err)
		}
		v.SetString(s)
	case kindUInt:
		n, err := strconv.ParseUint(string(b), 10, t.bits)
		if err != nil {
			return v, fmt.Errorf("%s: %q", t.name, b)
		}
		v.SetUint(n)
	case kindInt:
		n, err := strconv.ParseInt(string(b), 10, t.bits)
		if err != nil {
			return v, fmt.Errorf("%s: %q", t.name, b)
		}
		v.SetInt(n)
	case kindFloat:
		var f float64
		var err error
		switch string(b) {
		case "nan":
			f = math.NaN()
		case "inf":
			f = math.Inf(1)
		case "-inf":
			f = math.Inf(-1)
		default:
			f, err = strconv.ParseFloat(string(b), t.bits)
		}
		if err != nil {
			return v, fmt.Errorf("%s: %q", t.name, b)
		}
		v.SetFloat(f)
	default:
		layout := dateTimeLayout
		if t.kind == kindDate {
			layout = dateLayout
		}
		tm, err := time.ParseInLocation(layout, string(b), time.UTC)
		if err != nil {
			return v, fmt.Errorf("%s: %q", t.name, b)
		}
		v.Set(reflect.ValueOf(tm))
	}
	return v, nil
}
