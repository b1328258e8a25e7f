package disclosure

import (
	"fmt"
	"math"
)

// z95 is the standard normal quantile for a two-sided 95% interval.
const z95 = 1.959963984540054

// Sensitivity says whether a yes/no indicator is sensitive, so that R8
// protects the people answering "no" as well as those answering "yes".
type Sensitivity bool

const (
	// Ordinary indicators only need the yes count protected.
	Ordinary Sensitivity = false
	// Sensitive indicators need both the yes and the no count to be 0 or at
	// least k in every published group (R8).
	Sensitive Sensitivity = true
)

// Estimate is a proportion with its Wilson 95% interval.
type Estimate struct {
	// Yes is the numerator, N the denominator.
	Yes, N int
	// P is Yes/N; Low and High bound its 95% Wilson score interval.
	P, Low, High float64
}

// Width returns the width of the interval.
func (e Estimate) Width() float64 { return e.High - e.Low }

// Proportion is a protected proportion. Its estimate can be read only when
// it may be published; the zero Proportion (Unchecked) never may.
type Proportion struct {
	est    Estimate
	status Status
}

// Status returns whether the proportion is published, low reliability,
// empty or suppressed.
func (p Proportion) Status() Status { return p.status }

// Estimate returns the estimate and true if it may be published (a
// LowReliability one must carry its mark), or the zero Estimate and false.
func (p Proportion) Estimate() (Estimate, bool) {
	if !p.status.Publishable() {
		return Estimate{}, false
	}
	return p.est, true
}

// String describes the proportion without its values when it is not
// publishable, so that logging it cannot leak.
func (p Proportion) String() string {
	e, ok := p.Estimate()
	if !ok {
		return p.status.String()
	}
	return fmt.Sprintf("%.1f%% [%.1f–%.1f] N=%d %s", 100*e.P, 100*e.Low, 100*e.High, e.N, p.status)
}

// GoString is String, so that %#v does not print hidden values either.
func (p Proportion) GoString() string { return p.String() }

// Proportion returns yes/n with its Wilson interval. It is suppressed when n
// or the numerator is below k (R5, R9), or for a Sensitive item when the no
// count n-yes is (R8); marked LowReliability when n is below
// Config.LowReliabilityN or the interval is at least
// Config.LowReliabilityWidth wide, or suppressed instead when
// Config.SuppressLowReliability is set (R9); Empty when n is 0. It returns
// an error when yes or n is negative or yes exceeds n.
//
// Use it for numbers that appear in no table of a release. When the counts
// are published in tables, use Release.Proportion, which also respects
// their secondary suppression.
func (p *Policy) Proportion(yes, n int, s Sensitivity) (Proportion, error) {
	if yes < 0 || n < 0 || yes > n {
		return Proportion{}, fmt.Errorf("disclosure: proportion of %d out of %d is not a proportion", yes, n)
	}
	return p.estimate(yes, n, s), nil
}

func (p *Policy) estimate(yes, n int, s Sensitivity) Proportion {
	cfg := p.Config()
	small := func(x int) bool { return x > 0 && x < cfg.K }
	switch {
	case n == 0:
		return Proportion{status: Empty}
	case small(n), small(yes), s == Sensitive && small(n-yes):
		return Proportion{status: SuppressedPrimary}
	}
	lo, hi := wilson(yes, n, z95)
	e := Estimate{Yes: yes, N: n, P: float64(yes) / float64(n), Low: lo, High: hi}
	switch {
	case n >= cfg.LowReliabilityN && e.Width() < cfg.LowReliabilityWidth:
		return Proportion{est: e, status: Published}
	case cfg.SuppressLowReliability:
		return Proportion{status: SuppressedUnreliable}
	}
	return Proportion{est: e, status: LowReliability}
}

// Proportion returns the proportion of the cell yes in the cell n, both
// counts of the release. It is suppressed when either count is (keeping a
// primary status primary), and otherwise follows Policy.Proportion.
//
// For a Sensitive item it returns an error when both counts are published
// although the no count n-yes is below k: the tables already give that count
// away, whatever happens to the proportion. Tabulate yes and no as two
// categories, so that R5 and R6 protect the no count in the tables too.
// It also returns an error for a key the release does not have, or when yes
// exceeds n.
func (r *Release) Proportion(yes, n Key, s Sensitivity) (Proportion, error) {
	y, ok := r.counts[yes]
	if !ok {
		return Proportion{}, fmt.Errorf("disclosure: no cell %s in the release", yes)
	}
	d, ok := r.counts[n]
	if !ok {
		return Proportion{}, fmt.Errorf("disclosure: no cell %s in the release", n)
	}
	if y.n > d.n {
		return Proportion{}, fmt.Errorf("disclosure: cell %s is larger than cell %s", yes, n)
	}
	switch {
	case y.status == SuppressedPrimary || d.status == SuppressedPrimary:
		return Proportion{status: SuppressedPrimary}, nil
	case !y.status.Publishable() || !d.status.Publishable():
		return Proportion{status: SuppressedSecondary}, nil
	case s == Sensitive && d.n-y.n > 0 && d.n-y.n < r.cfg.K:
		return Proportion{}, fmt.Errorf("disclosure: sensitive item %s of %s: the published counts give away a no count below k; tabulate yes and no as categories", yes, n)
	}
	pol := Policy{cfg: r.cfg, set: true}
	return pol.estimate(y.n, d.n, s), nil
}

// wilson returns the Wilson score interval for x successes out of n > 0,
// which unlike the normal approximation stays inside [0, 1] and behaves for
// small n and extreme p (NCHS 2017).
func wilson(x, n int, z float64) (lo, hi float64) {
	nf := float64(n)
	p := float64(x) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, centre-half), min(1, centre+half)
}
