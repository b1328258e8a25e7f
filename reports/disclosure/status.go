package disclosure

// Status says whether a count or a proportion may be shown, and why not.
type Status uint8

const (
	// Unchecked is the zero Status: the value never went through Protect
	// (or the key is not in the release), so it is not shown.
	Unchecked Status = iota
	// Published values are shown as they are.
	Published
	// LowReliability proportions are shown with a low-reliability mark (R9).
	LowReliability
	// Empty proportions have no observations (N = 0), hence no estimate.
	Empty
	// SuppressedPrimary values are below the threshold themselves (R5, R8).
	SuppressedPrimary
	// SuppressedSecondary values are hidden to protect another cell (R6,
	// R9): renderers must show them exactly like SuppressedPrimary ones.
	SuppressedSecondary
	// SuppressedUnreliable proportions are hidden because they are low
	// reliability and Config.SuppressLowReliability is set.
	SuppressedUnreliable
	// Withheld cells are never published by construction: Hidden and Residual
	// cells of a System (a pooled site's cells, the change between releases).
	Withheld
)

// Publishable reports whether the value may be shown.
func (s Status) Publishable() bool { return s == Published || s == LowReliability }

// Suppressed reports whether the value is hidden for disclosure control or
// reliability. Every suppressed value gets the same mark.
func (s Status) Suppressed() bool { return s >= SuppressedPrimary }

// String returns a lower-case description for logs and tests.
func (s Status) String() string {
	switch s {
	case Unchecked:
		return "unchecked"
	case Published:
		return "published"
	case LowReliability:
		return "low reliability"
	case Empty:
		return "empty"
	case SuppressedPrimary:
		return "suppressed (primary)"
	case SuppressedSecondary:
		return "suppressed (secondary)"
	case SuppressedUnreliable:
		return "suppressed (unreliable)"
	case Withheld:
		return "withheld"
	}
	return "invalid status"
}
