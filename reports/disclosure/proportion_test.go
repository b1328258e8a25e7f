package disclosure

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// show writes a proportion as PRIVACY.md does: "30.0% [18.1–45.4]", or its
// status when it may not be published.
func show(p Proportion) string {
	e, ok := p.Estimate()
	if !ok {
		return p.Status().String()
	}
	return fmt.Sprintf("%.1f%% [%.1f–%.1f]", 100*e.P, 100*e.Low, 100*e.High)
}

func TestPolicyProportion(t *testing.T) {
	unreliable := DefaultConfig()
	unreliable.SuppressLowReliability = true
	tests := []struct {
		name       string
		cfg        Config
		yes, n     int
		s          Sensitivity
		wantStatus Status
		want       string
	}{
		{"T7 12/40", DefaultConfig(), 12, 40, Ordinary, Published, "30.0% [18.1–45.4]"},
		{"T7 8/30", DefaultConfig(), 8, 30, Ordinary, LowReliability, "26.7% [14.2–44.4]"},
		{"T7 3/10", DefaultConfig(), 3, 10, Ordinary, SuppressedPrimary, "suppressed (primary)"},
		{"T7 38/40 sensitive", DefaultConfig(), 38, 40, Sensitive, SuppressedPrimary, "suppressed (primary)"},
		{"38/40 ordinary", DefaultConfig(), 38, 40, Ordinary, Published, "95.0% [83.5–98.6]"},
		{"N below 30", DefaultConfig(), 10, 20, Ordinary, LowReliability, "50.0% [29.9–70.1]"},
		{"N below k", DefaultConfig(), 0, 3, Ordinary, SuppressedPrimary, "suppressed (primary)"},
		{"empty", DefaultConfig(), 0, 0, Ordinary, Empty, "empty"},
		{"sensitive none", DefaultConfig(), 0, 40, Sensitive, Published, "0.0% [0.0–8.8]"},
		{"sensitive all", DefaultConfig(), 40, 40, Sensitive, Published, "100.0% [91.2–100.0]"},
		{"low reliability suppressed", unreliable, 8, 30, Ordinary, SuppressedUnreliable, "suppressed (unreliable)"},
		{"reliable kept", unreliable, 12, 40, Ordinary, Published, "30.0% [18.1–45.4]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol, err := NewPolicy(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			p, err := pol.Proportion(tt.yes, tt.n, tt.s)
			if err != nil {
				t.Fatalf("Proportion(%d, %d) error: %v", tt.yes, tt.n, err)
			}
			if p.Status() != tt.wantStatus || show(p) != tt.want {
				t.Errorf("Proportion(%d, %d) = %v %q, want %v %q", tt.yes, tt.n, p.Status(), show(p), tt.wantStatus, tt.want)
			}
		})
	}
}

func TestPolicyProportionErrors(t *testing.T) {
	var pol Policy
	for _, in := range [][2]int{{-1, 5}, {6, 5}, {0, -1}} {
		if _, err := pol.Proportion(in[0], in[1], Ordinary); err == nil {
			t.Errorf("Proportion(%d, %d) error = nil, want an error", in[0], in[1])
		}
	}
}

// TestWilson checks the interval against Newcombe (1998), table I, method
// 3, and the values of T7.
func TestWilson(t *testing.T) {
	tests := []struct {
		x, n             int
		wantLo, wantHigh float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0.0000, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{12, 40, 0.1807, 0.4543},
		{8, 30, 0.1418, 0.4445},
		{5, 10, 0.2366, 0.7634},
		{10, 10, 0.7225, 1.0000},
	}
	for _, tt := range tests {
		lo, hi := wilson(tt.x, tt.n, z95)
		if math.Abs(lo-tt.wantLo) > 5e-5 || math.Abs(hi-tt.wantHigh) > 5e-5 {
			t.Errorf("wilson(%d, %d) = [%.4f, %.4f], want [%.4f, %.4f]", tt.x, tt.n, lo, hi, tt.wantLo, tt.wantHigh)
		}
	}
}

func TestProportionFormatHidesValue(t *testing.T) {
	var pol Policy
	p, err := pol.Proportion(3, 40, Ordinary)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, p); strings.ContainsAny(got, "0123456789") {
			t.Errorf("Sprintf(%q, suppressed proportion) = %q, want no numbers", verb, got)
		}
	}
}

// answers tabulates a yes/no item as R8 asks: both answers are categories.
func answers(item string, yes, no int) OneWay {
	return OneWay{
		Name:  item,
		Scope: []Coord{{"item", item}},
		Dim:   "answer", Categories: []string{"yes", "no"},
		Counts: []int{yes, no},
	}
}

func TestReleaseProportion(t *testing.T) {
	common := answers("common", 12, 28)
	rareNo := answers("rare no", 38, 2)
	rareYes := answers("rare yes", 3, 7)
	entrants := OneWay{Name: "entrants", Scope: []Coord{{"item", "entrants"}}, Dim: "site", Categories: []string{"P1"}, Counts: []int{40}}
	users := OneWay{Name: "users", Scope: []Coord{{"item", "users"}}, Dim: "site", Categories: []string{"P1"}, Counts: []int{38}}
	var pol Policy
	rel, err := pol.Protect(common, rareNo, rareYes, entrants, users)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		yes, n     Key
		s          Sensitivity
		wantStatus Status
		want       string
		wantErr    string
	}{
		{"published", common.Key(0), common.TotalKey(), Sensitive, Published, "30.0% [18.1–45.4]", ""},
		{"no count below k", rareNo.Key(0), rareNo.TotalKey(), Sensitive, SuppressedSecondary, "suppressed (secondary)", ""},
		{"yes count below k", rareYes.Key(0), rareYes.TotalKey(), Ordinary, SuppressedPrimary, "suppressed (primary)", ""},
		{"ordinary with few no", users.Key(0), entrants.Key(0), Ordinary, Published, "95.0% [83.5–98.6]", ""},
		{"sensitive with few no", users.Key(0), entrants.Key(0), Sensitive, Unchecked, "", "give away a no count below k"},
		{"unknown key", KeyOf(Coord{"item", "nothing"}), common.TotalKey(), Ordinary, Unchecked, "", "no cell item=nothing"},
		{"yes above n", entrants.Key(0), users.Key(0), Ordinary, Unchecked, "", "is larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := rel.Proportion(tt.yes, tt.n, tt.s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Proportion(%s, %s) error = %v, want one containing %q", tt.yes, tt.n, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Proportion(%s, %s) error: %v", tt.yes, tt.n, err)
			}
			if p.Status() != tt.wantStatus || show(p) != tt.want {
				t.Errorf("Proportion(%s, %s) = %v %q, want %v %q", tt.yes, tt.n, p.Status(), show(p), tt.wantStatus, tt.want)
			}
		})
	}
}
