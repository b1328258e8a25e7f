package reports

import "slices"

// The indicators and families that code branches on, named once. The others are only
// data: the questionnaire definitions declare them (collector/questionnaires, with their
// conditions, which package queries compiles into SQL), and the tests may use the
// literal ids.
const (
	// EntrantsIndicator counts interviewed entrants: the entrants tables by site and
	// another dimension are its numerators by that dimension, and its merge levels are
	// the same in every group.
	EntrantsIndicator = "I19"
	// LinkedIndicator counts linked records (entry and follow-up): re-keying and the
	// destruction of old linkage keys can make its counts go down between releases,
	// when every other count only grows.
	LinkedIndicator = "I21"
)

// partsFamilies are the families whose chart compares their parts (substances, main
// drug, tests) rather than the sites, in the workbook and in the report alike.
var partsFamilies = []string{"I03", "I06", "I14"}

// chartsParts reports whether the chart of a family compares its parts rather than the
// sites.
func chartsParts(family string) bool { return slices.Contains(partsFamilies, family) }
