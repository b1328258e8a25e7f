// Package collector is tamtam's domain core: questionnaire definitions, sites, roles and
// principals, strict decoding and validation of submissions, anonymisation, the linkage
// key, the ingest pipeline and the HTTP handlers that intake workers' clients talk to.
//
// The package imports none of tamtam's other packages but its own sub-packages (words,
// spool). What it needs from storage is declared here as small interfaces ([Store],
// [TokenStore], [KeyStore], [Journal]) and implemented by package queries and package
// spool; cmd/tamtam wires them together. Workflows live here, not in cmd: token
// administration ([TokenAdmin]) and linkage-key maintenance ([KeyMaintainer]), as the
// import of paper forms lives in package paper, run by the command line and the pages.
//
// # Errors
//
// An [*Error] carries a [Code]; errors.go holds the one table from a code to its HTTP
// status, Retry-After and message key, and [AbortWithError] is the one function that
// answers an error on any route: JSON for the API, in the language of Accept-Language
// (English by default), or the error page a page route installed ([UseErrorPage]).
// Messages come from the catalogue of package words.
//
// # The anonymisation boundary
//
// A [Submission] is what a client sent: it holds exact values (an age, a country, a
// linkage identifier) and lives only in memory during a request. [Anonymise] turns it
// into a [Record], the only type a [Store] accepts: age band instead of age, nationality
// group instead of country, secure/insecure instead of residence status, an HMAC linkage
// key instead of the identifier. A Submission redacts itself when logged (LogValue) and
// no error message ever quotes an answer, so the exact values cannot reach disk, logs or
// ClickHouse by accident.
//
// # Definitions are data
//
// Questionnaires are JSON files embedded from questionnaires/ (see [LoadDefinitions]).
// Adding a version is adding a file: validation, the served definition and storage are
// all driven by it. Storage transforms are a closed set named in the definition
// ("store": "age_band", …) so a new version cannot invent a way to store raw values.
package collector
