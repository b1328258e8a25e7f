package disclosure

import (
	"errors"
	"fmt"
)

// MinK is the smallest threshold a release may use (R5): below 3 a published
// count of one or two people is too easily attributed.
const MinK = 3

// Config holds the settings of disclosure control. Start from DefaultConfig:
// zero values are not defaults and Validate refuses most of them.
type Config struct {
	// K is the threshold of R5: a count with 0 < n < K is suppressed.
	K int
	// LowReliabilityN marks a proportion with a smaller denominator as low
	// reliability (R9).
	LowReliabilityN int
	// LowReliabilityWidth marks a proportion whose Wilson interval is at
	// least this wide as low reliability (R9).
	LowReliabilityWidth float64
	// SuppressLowReliability suppresses low-reliability proportions instead
	// of marking them.
	SuppressLowReliability bool
	// SmallSiteMinimum is the number of interviewed entrants a site needs in
	// the year to be shown on its own (R10).
	SmallSiteMinimum int
	// MaxSuppressedShare is the share of a table's cells above which the
	// table is reported as over-suppressed, so that categories get merged.
	MaxSuppressedShare float64
}

// DefaultConfig returns the settings of PRIVACY.md: k = 5, low reliability
// below N = 30 or from an interval width of 0.30, sites pooled below 20
// entrants, tables flagged above 30% suppressed cells.
func DefaultConfig() Config {
	return Config{
		K:                   5,
		LowReliabilityN:     30,
		LowReliabilityWidth: 0.30,
		SmallSiteMinimum:    20,
		MaxSuppressedShare:  0.30,
	}
}

// Validate reports every setting that would weaken protection or make no
// sense; in particular a K below MinK.
func (c Config) Validate() error {
	var errs []error
	if c.K < MinK {
		errs = append(errs, fmt.Errorf("disclosure: k = %d is refused: the threshold must be at least %d", c.K, MinK))
	}
	if c.LowReliabilityN < 0 {
		errs = append(errs, fmt.Errorf("disclosure: low-reliability N = %d is negative", c.LowReliabilityN))
	}
	if !(c.LowReliabilityWidth > 0 && c.LowReliabilityWidth <= 1) {
		errs = append(errs, fmt.Errorf("disclosure: low-reliability width = %g is not in (0, 1]", c.LowReliabilityWidth))
	}
	if c.SmallSiteMinimum < 0 {
		errs = append(errs, fmt.Errorf("disclosure: small-site minimum = %d is negative", c.SmallSiteMinimum))
	}
	if !(c.MaxSuppressedShare > 0 && c.MaxSuppressedShare <= 1) {
		errs = append(errs, fmt.Errorf("disclosure: maximum suppressed share = %g is not in (0, 1]", c.MaxSuppressedShare))
	}
	return errors.Join(errs...)
}

// Policy applies one validated Config. It is the only way into the package's
// protection, so every output of a release uses the same settings. The zero
// Policy applies DefaultConfig.
type Policy struct {
	cfg Config
	set bool
}

// NewPolicy returns a Policy for cfg, or the error of cfg.Validate.
func NewPolicy(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg, set: true}, nil
}

// Config returns the settings the Policy applies, for the release ledger.
func (p *Policy) Config() Config {
	if !p.set {
		return DefaultConfig()
	}
	return p.cfg
}
