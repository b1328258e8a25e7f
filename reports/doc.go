// Package reports turns indicator counts into protected, rendered outputs: the yearly
// figures of the advocacy coordinator and the funders.
//
// The flow is one way. A [Source] (implemented by package queries) gives the numerator
// and denominator of every indicator in every finest breakdown cell. [Build] pools small
// sites, sums the cells into one table per indicator and breakdown, and hands all of them
// at once to package disclosure, which suppresses and verifies (PRIVACY.md R5–R10). What
// comes out, [Figures], holds only protected numbers: a renderer cannot reach a raw count,
// so every output — workbook, HTML, figures, CSV, API — shows the same protected cells.
package reports
