package queries

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// TestFieldRoundTrip writes values of every type a backup knows and reads them back:
// the text is ClickHouse's, and every value comes back unchanged.
func TestFieldRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		typ   string
		value any
		text  string
	}{
		{"String", "plain", "plain"},
		{"String", "tab\there\nnew line \\ 'quote' \r\b\f\x00", `tab\there\nnew line \\ \'quote\' \r\b\f\0`},
		{"String", "\xff\xfe not UTF-8", "\xff\xfe not UTF-8"},
		{"String", "", ""},
		{"UInt8", uint8(255), "255"},
		{"UInt16", uint16(2025), "2025"},
		{"UInt32", uint32(4294967295), "4294967295"},
		{"UInt64", uint64(math.MaxUint64), "18446744073709551615"},
		{"Int64", int64(math.MinInt64), "-9223372036854775808"},
		{"Int8", int8(-3), "-3"},
		{"Float64", 0.1, "0.1"},
		{"Float32", float32(1.5), "1.5"},
		{"DateTime", time.Date(2025, 3, 4, 10, 5, 6, 0, time.UTC), "2025-03-04 10:05:06"},
		{"DateTime", time.Unix(0, 0).UTC(), "1970-01-01 00:00:00"},
		{"DateTime('Europe/Brussels')", time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), "2025-07-01 00:00:00"},
		{"Date", time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC), "2025-03-04"},
		{"Array(String)", []string{"a,b", "it's", `back\slash`, "[x]", ""}, `['a,b','it\'s','back\\slash','[x]','']`},
		{"Array(String)", []string{}, "[]"},
		{"Array(UInt16)", []uint16{1, 2, 65535}, "[1,2,65535]"},
		{"Array(DateTime)", []time.Time{time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}, "['2025-01-02 03:04:05']"},
	} {
		ct, err := parseColType(tc.typ)
		if err != nil {
			t.Fatalf("parseColType(%q) = %v", tc.typ, err)
		}
		got := string(ct.appendField(nil, reflect.ValueOf(tc.value)))
		if got != tc.text {
			t.Errorf("%s %#v written %q, want %q", tc.typ, tc.value, got, tc.text)
		}
		back, err := ct.parseField([]byte(got))
		if err != nil || !reflect.DeepEqual(back, tc.value) {
			t.Errorf("%s %q read back as %#v, %v; want %#v", tc.typ, got, back, err, tc.value)
		}
	}
	if _, err := parseColType("Map(String, String)"); err == nil {
		t.Error("parseColType(Map) = nil error, want a type a backup does not know")
	}
}

// TestFieldRefused: text that no writer produces is refused, not read as something.
func TestFieldRefused(t *testing.T) {
	for _, tc := range []struct{ typ, text string }{
		{"String", `bad \x escape`}, {"String", `ends in \`},
		{"UInt8", "256"}, {"UInt8", "-1"}, {"UInt16", ""}, {"Int64", "1.5"},
		{"DateTime", "2025-03-04T10:05:06Z"}, {"Date", "2025-13-01"},
		{"Array(String)", "['a'"}, {"Array(String)", "['a''b']"}, {"Array(String)", "[a]"},
		{"Array(String)", "['a',]"}, {"Array(UInt8)", "[1,,2]"}, {"Array(UInt8)", "1,2"},
	} {
		ct, err := parseColType(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := ct.parseField([]byte(tc.text)); err == nil {
			t.Errorf("%s %q read as %#v, want an error", tc.typ, tc.text, v)
		}
	}
}

// FuzzField: whatever a backup file holds, reading a field never panics, and what it
// reads is written back as the same text (one text per value: the checksums of a backup
// and of its restore can be compared).
func FuzzField(f *testing.F) {
	for _, s := range []string{"", "a", `\t\n\\\'`, "['a','b']", "[1,2]", "2025-03-04 10:05:06", "-1", "1e10"} {
		f.Add(s)
	}
	types := []string{"String", "Array(String)", "UInt16", "Int64", "Float64", "DateTime", "Date", "Array(UInt8)"}
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range types {
			ct, _ := parseColType(name)
			v, err := ct.parseField([]byte(text))
			if err != nil {
				continue
			}
			again := ct.appendField(nil, reflect.ValueOf(v))
			v2, err := ct.parseField(again)
			if err != nil || !reflect.DeepEqual(v, v2) && !(ct.kind == kindFloat) {
				t.Errorf("%s %q read %#v, written %q, read back %#v, %v", name, text, v, again, v2, err)
			}
			if string(ct.appendField(nil, reflect.ValueOf(v2))) != string(again) {
				t.Errorf("%s %q: written twice differently", name, text)
			}
		}
	})
}
