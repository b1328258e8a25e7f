// Package disclosure applies statistical disclosure control to every number
// tamtam publishes: counts in one- and two-way tables, proportions, and the
// list of sites shown on their own. It implements rules R5 to R10 of
// PRIVACY.md. The report generator, the HTML report, the dashboard and the
// API all go through it, so there is no second, weaker implementation to keep
// in step.
//
// # Use
//
// Build a [Policy] from a [Config] once (NewPolicy refuses a k below 3), hand
// every table of a release to [Policy.Protect] in one call, and read the
// numbers back from the [Release]:
//
//	pol, err := disclosure.NewPolicy(disclosure.DefaultConfig())
//	byGender := disclosure.TwoWay{Name: "entrants by prison and gender", ...}
//	women := disclosure.OneWay{Name: "women by prison", Scope: ..., ...}
//	rel, err := pol.Protect(byGender, women)
//	n, ok := rel.Count(byGender.Key(r, c)).Value() // ok is false: show the mark
//
// A [Count] hides its value unless it may be published, and its zero value
// (a key the release does not know) is never publishable, so a renderer that
// forgets a check shows a mark rather than a small number. Renderers must
// show one and the same mark for every status for which [Status.Suppressed]
// is true: a complementary cell must look exactly like a small one.
//
// # Cells and keys
//
// A cell is identified by its coordinates ([Key]), not by its place in a
// table. The cell "site=haren, gender=F" of a prison by gender table and the
// cell "haren" of a "women by prison" table (Scope gender=F) have the same
// key, so Protect gives them one status: otherwise the second table would
// undo the protection of the first by differencing (R7). Tables of different
// populations (another year, another indicator) must therefore carry distinct
// Scope coordinates; Protect refuses two tables that give one key two counts.
//
// # Suppression
//
// Every table is a set of sum relations: a one-way table is one relation
// (categories sum to the total); a two-way table has one relation per row
// and per column, plus the row totals and the column totals that each sum to
// the grand total. Protect
//
//  1. suppresses every cell with 0 < n < k, margins included (R5);
//  2. applies the secondary rules of R6 to every relation of every table
//     until nothing changes: in a relation whose total is published, a lone
//     suppressed cell, or suppressed cells together holding fewer than k,
//     take the cheapest other non-zero cell with them (cost = count, ×10 for
//     margins, ties broken by key; zeros and grand totals are never
//     complements);
//  3. verifies the result exactly, as an intruder would attack it: each
//     suppressed cell must take at least two integer values given every
//     published cell and every relation. The intruder is assumed to know the
//     rules, hence that a suppressed cell is at least 1 (zeros are never
//     suppressed). A recoverable cell gets another complement and the loop
//     goes back to step 2; if none is left Protect fails and names the cell.
//
// Protect never publishes a cell it could not prove safe. When more than
// Config.MaxSuppressedShare of a table's cells end up suppressed the table's
// [TableSummary] says so: merge categories and protect again.
//
// # Systems, earlier releases and withheld cells
//
// A [System] gives cells and sum relations directly, for structures tables do not
// describe: overlapping groups, a count shared by several tables, a release with the
// cells of the earlier releases of its year. Its cells have a [Kind]: Free cells are
// published unless suppressed; Frozen cells belong to an earlier release, keep their
// status, and a suppressed one must stay unrecoverable; Hidden cells (a pooled site's) are
// never published and may be computed only when 0 or at least k; Residual cells
// (the "no" count of a share, the change of a cell between two releases, a category
// merged away) are never published and may be computed only when 0 or at least k. The
// intruder knows a suppressed cell is at least 1, a withheld one at least 0, and nothing
// of the sign of a change between releases (Cell.Signed).
//
// What the shift and depth-first searches cannot decide goes to a linear relaxation
// (lp.go), which proves most such cells recoverable or finds an integral witness; a cell
// still undecided counts as recoverable, so that another is suppressed. When an earlier
// release leaves nothing else, a grand total may be suppressed as a last resort.
//
// # Proportions and sites
//
// [Policy.Proportion] and [Release.Proportion] give a share with its Wilson
// 95% interval, suppressed with its numerator (R9) or, for a [Sensitive]
// yes/no item, when the yes or the no count is below k (R8), and marked (or
// suppressed) when it is unreliable. [Policy.PooledSites] says which sites
// are shown only inside "other sites" (R10).
//
// Error messages name cells and tables but never carry a count, because they
// end up in logs.
package disclosure
