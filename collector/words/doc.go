// Package words is tamtam's one catalogue of user-facing texts: the words of the pages and
// forms, the paper template, the workbook, the HTML report, the charts and the dashboard,
// the API's error messages and the command line's messages, each in French, Dutch and
// English.
//
// The texts live in texts/*.json, one file per audience (pages.json, report.json, …), each
// an object of key → {"fr": …, "nl": …, "en": …}. A key is unique across the files. The
// same thing is named by one key wherever it appears, so the workbook and the HTML report
// cannot drift apart; the package's tests fail when a key lacks a language, when a key is
// defined twice, or when two keys say the same thing in one language and differently in
// another (drift).
//
// Questionnaire texts (items, choices) are not here: they are data of the definitions.
//
// A text may hold fmt verbs (%s, %d), the same in every language, and writes a percent
// sign as %%; [Lang.T] formats it as fmt does, so digits come out as they always did. [Lang.Number] groups digits the way the language writes them
// (golang.org/x/text/message).
//
// Languages are chosen in one way: [Parse] for an explicit choice (an unknown language is
// an error, never a silent default) and [Match] for an Accept-Language header, which falls
// back to the caller's default (English for the API and the command line, French for the
// pages).
package words
