package collector

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tamtam-ngo/tamtam/collector/words"
)

// Code classifies an error. Each code has one HTTP status, one Retry-After policy and one
// catalogue key for its message, in [answers]: the only mapping of errors to answers.
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
	// CodeUnprocessable is a file read whole whose rows have problems: nothing of it is
	// stored (the import page; the API answers per submission instead).
	CodeUnprocessable Code = "unprocessable"
)

// codeAnswer is how an error of one code is answered.
type codeAnswer struct {
	status int
	// retryAfter is what Retry-After says when the error does not compute its own wait
	// ([Error.RetryAfter]); 0: no Retry-After.
	retryAfter time.Duration
	// key is the catalogue key of the message of an error that carries none of its own
	// on a page (the API then shows the error's Message).
	key string
}

// answers is the one table from error codes to answers. A code missing from it is answered
// as CodeInternal.
var answers = map[Code]codeAnswer{
	CodeInvalid:      {status: http.StatusBadRequest, key: "bad_form"},
	CodeUnauthorized: {status: http.StatusUnauthorized, key: "session_expired"},
	CodeForbidden:    {status: http.StatusForbidden, key: "forbidden_role"},
	CodeNotFound:     {status: http.StatusNotFound, key: "not_found"},
	CodeNoRelease:    {status: http.StatusNotFound, key: "not_found"},
	CodeConflict:     {status: http.StatusConflict, key: "conflict"},
	CodeTooLarge:     {status: http.StatusRequestEntityTooLarge, key: "too_large"},
	CodeMediaType:    {status: http.StatusUnsupportedMediaType, key: "bad_form"},
	// A wait that is known (a token's rate, failed sign-ins) is computed by the limiter;
	// this one is for a wait nobody can know, such as another upload of the same token.
	CodeRateLimited: {status: http.StatusTooManyRequests, retryAfter: 10 * time.Second, key: "too_many_requests"},
	// The spool full, the store lost, the audit log unwritable: short states that the
	// ingester and the store recover from by themselves.
	CodeUnavailable:   {status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second, key: "unavailable"},
	CodeInternal:      {status: http.StatusInternalServerError, key: "internal"},
	CodeUnprocessable: {status: http.StatusUnprocessableEntity, key: "check_bad"},
}

func (c Code) answer() codeAnswer {
	if a, ok := answers[c]; ok {
		return a
	}
	return answers[CodeInternal]
}

// Status returns the HTTP status of the code.
func (c Code) Status() int { return c.answer().status }

// RetryAfter returns the wait an answer with this code asks for when the error computes
// none (0: the answer has no Retry-After).
func (c Code) RetryAfter() time.Duration { return c.answer().retryAfter }

// Key returns the catalogue key of the message of the code, for an error without one.
func (c Code) Key() string { return c.answer().key }

// Error is tamtam's domain error: a code, a message safe to show to the client, and an
// optional cause for the log. Messages never quote an answer.
type Error struct {
	Code Code
	// Message is the message in English: the log's, and the API's when Key is empty.
	Message string
	// Key is the catalogue key (package words) of the message in every language, formatted
	// with Args; empty: Message, or on a page the code's key.
	Key  string
	Args []any
	// RetryAfter is the wait of a 429 whose limiter computed it; 0: the code's.
	RetryAfter time.Duration
	Fields     []FieldError // itemised problems, for CodeInvalid
	Err        error        // cause, logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message in English only. Prefer [NewError].
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NewError returns an *Error whose message is the catalogue's key, formatted with args:
// shown in the language of the request, and in English in the log.
func NewError(code Code, key string, args ...any) *Error {
	return &Error{Code: code, Message: words.EN.T(key, args...), Key: key, Args: args}
}

// Text returns the message of e in lang: its key's text; else its Message, in English (a
// message built from values, such as a list of allowed fields, has no key); else the text
// of its code's key.
func (e *Error) Text(lang words.Lang) string {
	switch {
	case e.Key != "":
		return lang.T(e.Key, e.Args...)
	case e.Message != "":
		return e.Message
	}
	return lang.T(e.Code.Key())
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
	Message string `json:"message"` // in English; the answer's language when Key is set
	Key     string `json:"-"`       // catalogue key of Message (package words); empty: English only
	Args    []any  `json:"-"`       // the values of Key's verbs
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
	e := NewError(CodeInvalid, "api.submission_errors")
	e.Fields = fields
	return e
}
