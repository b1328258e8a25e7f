package disclosure

import (
	"slices"
	"testing"
)

func TestPooledSites(t *testing.T) {
	tests := []struct {
		name        string
		minimum     int
		interviewed map[string]int
		want        []string
	}{
		{"none small", 20, map[string]int{"haren": 150, "lantin": 80}, nil},
		{"two small", 20, map[string]int{"arlon": 5, "dinant": 19, "haren": 150}, []string{"arlon", "dinant"}},
		{"one small takes the next smallest", 20, map[string]int{"haren": 150, "lantin": 80, "marche": 12, "mons": 30}, []string{"marche", "mons"}},
		{"empty sites do not count", 20, map[string]int{"arlon": 0, "dinant": 12, "haren": 150, "mons": 30}, []string{"arlon", "dinant", "mons"}},
		{"next smallest by name on ties", 20, map[string]int{"marche": 12, "mons": 30, "ittre": 30}, []string{"ittre", "marche"}},
		{"only site", 20, map[string]int{"marche": 12}, []string{"marche"}},
		{"exactly the minimum is shown", 20, map[string]int{"arlon": 20, "haren": 150}, nil},
		{"no minimum", 0, map[string]int{"arlon": 1, "haren": 150}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SmallSiteMinimum = tt.minimum
			pol, err := NewPolicy(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := pol.PooledSites(tt.interviewed); !slices.Equal(got, tt.want) {
				t.Errorf("PooledSites(%v) = %v, want %v", tt.interviewed, got, tt.want)
			}
		})
	}
}
