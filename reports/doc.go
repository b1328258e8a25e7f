// Package reports turns indicator counts into frozen, protected releases and renders them:
// the yearly figures of the advocacy coordinator and the funders.
//
// Every number any role sees is a cell of a release (PRIVACY.md R11). [Make] reads the
// counts of a year up to a cut-off from a [Source] (implemented by package queries) and
// lays out the cells of every publication group — all sites, each site shown on its own,
// the pooled "other sites", each funder's sites — with every sum relation a reader knows
// (model.go): denominators shared by the indicators of one population, the choices of a
// single-choice item adding up to them, breakdowns adding up to totals, groups adding up
// their sites. Package disclosure protects all of it at once, jointly with the cells of
// the year's earlier releases (R12, R13); breakdowns with too much suppressed are merged
// or dropped and the whole protected again (R6). The result, a [Release], is stored by a
// [ReleaseStore] and never changes; the [Publisher] makes, lists and loads them.
//
// Outputs never compute: [Release.View] reads one group's rows as [Figures], which hold
// only protected numbers (a renderer cannot reach a raw count), and the workbook, the
// HTML report, the figures, the CSV, the downloads and the dashboard render that. The
// tests hold releases to package audit, an independent intruder.
package reports
