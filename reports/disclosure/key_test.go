package disclosure

import "testing"

func TestKeyOf(t *testing.T) {
	site, gender := Coord{"site", "haren"}, Coord{"gender", "F"}
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{"sorted by dimension", KeyOf(site, gender), "gender=F|site=haren"},
		{"order does not matter", KeyOf(gender, site), "gender=F|site=haren"},
		{"separators escaped", KeyOf(Coord{"site", "a|b=c%"}), "site=a%7Cb%3Dc%25"},
		{"no coordinates", KeyOf(), "(total)"},
		{"zero key", Key{}, "(total)"},
	}
	for _, tt := range tests {
		if got := tt.key.String(); got != tt.want {
			t.Errorf("KeyOf(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
	// A label holding a separator must not forge another cell's key.
	if KeyOf(Coord{"site", "a|gender=F"}) == KeyOf(Coord{"site", "a"}, Coord{"gender", "F"}) {
		t.Errorf("KeyOf(label with separators) = KeyOf(two coordinates), want different keys")
	}
}

func TestTableKeys(t *testing.T) {
	byGender := prisonsByGender([][]int{{40, 3}, {35, 8}, {50, 12}})
	women := womenByPrison([]int{3, 8, 12})
	tests := []struct {
		name      string
		got, want Key
	}{
		{"interior", byGender.Key(1, 1), women.Key(1)},
		{"column total", byGender.ColTotalKey(1), women.TotalKey()},
		{"row total", byGender.RowTotalKey(0), KeyOf(Coord{"site", "P1"})},
		{"grand total", byGender.TotalKey(), Key{}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s key = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}
