package disclosure

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // in the error; empty for a valid config
	}{
		{"default", func(*Config) {}, ""},
		{"k = 3", func(c *Config) { c.K = 3 }, ""},
		{"T9 k = 2", func(c *Config) { c.K = 2 }, "k = 2 is refused: the threshold must be at least 3"},
		{"k = 0", func(c *Config) { c.K = 0 }, "k = 0 is refused"},
		{"zero config", func(c *Config) { *c = Config{} }, "k = 0 is refused"},
		{"negative N", func(c *Config) { c.LowReliabilityN = -1 }, "low-reliability N = -1"},
		{"zero width", func(c *Config) { c.LowReliabilityWidth = 0 }, "width = 0"},
		{"negative site minimum", func(c *Config) { c.SmallSiteMinimum = -1 }, "small-site minimum = -1"},
		{"share above one", func(c *Config) { c.MaxSuppressedShare = 1.5 }, "share = 1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate(%s) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestNewPolicyRefusesSmallK is T9: a policy with k = 2 cannot be made, and
// the message fits on one line.
func TestNewPolicyRefusesSmallK(t *testing.T) {
	cfg := DefaultConfig()
	cfg.K = 2
	pol, err := NewPolicy(cfg)
	if pol != nil || err == nil {
		t.Fatalf("NewPolicy(k=2) = %v, %v, want nil and an error", pol, err)
	}
	if got, want := err.Error(), "disclosure: k = 2 is refused: the threshold must be at least 3"; got != want {
		t.Errorf("NewPolicy(k=2) error = %q, want %q", got, want)
	}
}

func TestZeroPolicy(t *testing.T) {
	var pol Policy
	if got, want := pol.Config(), DefaultConfig(); got != want {
		t.Errorf("Policy{}.Config() = %+v, want %+v", got, want)
	}
}
