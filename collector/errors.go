package collector

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error. Each code maps to exactly one HTTP status in [Code.Status].
type Code string

// Error codes of the whole API.
const (
	CodeInvalid      Code = "invalid"      // the request is well-formed but its content is refused
	CodeUnauthorized Code = "unauthorized" // no or unknown token
	CodeForbidden    Code = "forbidden"    // role or site not allowed
	CodeNotFound     Code = "not_found"    // no such questionnaire, version or page
	CodeNoRelease    Code = "no_release"   // figures asked of a year that has no release yet
	CodeConflict     Code = "conflict"     // same submission id, different content
	CodeTooLarge     Code = "too_large"    // body over the limit
	CodeMediaType    Code = "unsupported_media_type"
	CodeRateLimited  Code = "rate_limited"
	CodeUnavailable  Code = "unavailable" // the record cannot be made durable now
	CodeInternal     Code = "internal"    // a bug or an unexpected failure
)

// Status returns the HTTP status of the code. It is the only place where errors become
// statuses.
func (c Code) Status() int {
	switch c {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound, CodeNoRelease:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeMediaType:
		return http.StatusUnsupportedMediaType
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Error is tamtam's domain error: a code, a message safe to show to the client, and an
// optional cause for the log. Messages never quote an answer.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError // itemised problems, for CodeInvalid
	Err     error        // cause, logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of the first *Error in its chain, or
// CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// FieldError is one problem with one item (or envelope field) of a submission.
type FieldError struct {
	Item    string `json:"item"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Field error codes, stable: clients and the web form key on them.
const (
	ErrMalformed       = "malformed"     // not a JSON object of the expected shape
	ErrUnknownField    = "unknown_field" // envelope key that does not exist
	ErrDuplicateKey    = "duplicate_key" // a key given twice in one object
	ErrMissingField    = "missing_field" // envelope field absent
	ErrInvalidID       = "invalid_id"    // submission_id is not a UUID
	ErrUnknownQuest    = "unknown_questionnaire"
	ErrUnknownVersion  = "unknown_version"
	ErrUnknownSite     = "unknown_site"
	ErrUnknownItem     = "unknown_item"
	ErrWrongType       = "wrong_type"
	ErrInvalidChoice   = "invalid_choice"
	ErrDuplicateChoice = "duplicate_choice"
	ErrMissingRequired = "missing_required"
	ErrNotApplicable   = "not_applicable"
	ErrIdentifierLike  = "identifier_like"
	ErrBadMonth        = "bad_month"
	ErrMonthFuture     = "month_in_future"
	ErrMonthTooEarly   = "month_too_early"
	ErrOutOfRange      = "out_of_range"
	ErrAboveItem       = "above_item" // an integer above the answer it is bounded by
	ErrNotSubset       = "not_subset"
	ErrEmptyAnswer     = "empty_answer"
	ErrTooMany         = "too_many_submissions"
	ErrSiteNotAllowed  = "site_not_allowed"
)

// invalid wraps field errors into an *Error for a 400.
func invalid(fields []FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: "the submission has errors", Fields: fields}
}
