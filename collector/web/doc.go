// Package web holds the pages people use in a browser: sign-in with a token, the
// questionnaire forms of intake workers, the import of paper forms, and the coordinator's
// audit log. The reports dashboard, in package reports, renders through the same
// [Pages] and [Sessions] (behind two small interfaces that package declares), so every
// page shares one layout, one session and one set of security headers.
//
// # Errors
//
// A page answers an error as the API does, through [collector.AbortWithError]: the
// status, Retry-After and message key come from the error's code. [Pages.Middleware]
// makes that answer the error page, in the page's language. A form shown again with its
// problems takes its status from the same table ([collector.ErrorStatus]).
//
// # Sessions
//
// A worker signs in by pasting a token; the session cookie (HttpOnly, SameSite=Strict,
// Secure under TLS) holds the token's hash, signed with a key of the data directory, and
// every request authenticates that hash again, so revoking a token ends its sessions.
// Every form carries a CSRF token derived from the session; the sign-in form, before a
// session exists, is tied to its browser by a signed double-submit cookie.
//
// # Forms
//
// A questionnaire page is generated from its definition: no item is written by hand.
// Controls are named by item code and valued by choice code (DESIGN.md §3). A small
// script hides the questions that do not apply as answers are given; without it every
// question shows with a line saying when it applies, and in both cases the server
// validates the answers through [collector.API.Prepare], exactly as an API submission,
// and shows each problem beside its question with the answers kept. Each form carries
// its submission id, so a double click or a resent form is stored once.
//
// # No inline script
//
// The Content-Security-Policy allows scripts only from tamtam's own files: the pages
// hold no inline script or event handler, and work without any script at all.
package web
