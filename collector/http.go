package collector

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector/words"
)

// Request body limits. A questionnaire is under 4 KiB; the limits leave room and no more.
const (
	MaxSubmissionBytes = 64 << 10
	MaxBatchBytes      = 8 << 20
	MaxBatchSize       = 1000
)

// API serves the questionnaire definitions and takes submissions (DESIGN.md §3).
type API struct {
	Catalog    *Catalog
	Sites      *Sites
	Auth       *Authenticator
	Anonymiser *Anonymiser
	Ingester   *Ingester
	Limiter    *RateLimiter     // requests per token; nil: no rate limit
	Records    *RateLimiter     // records per token ([NewRecordBudget]); nil: no budget
	Metrics    *Metrics         // nil: none
	Logger     *slog.Logger     // nil: discard
	Now        func() time.Time // nil: time.Now
}

// Mount registers the API routes on r.
func (a *API) Mount(r gin.IRouter) {
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	v1 := r.Group("/api/v1")
	v1.GET("/questionnaires", a.listQuestionnaires)
	v1.GET("/questionnaires/:id", a.getQuestionnaire)
	v1.GET("/sites", a.listSites)
	v1.GET("/openapi.json", serveOpenAPI)
	auth := v1.Group("", a.countRefusal, a.Auth.RequireToken(), a.Limiter.Middleware())
	auth.POST("/submissions", a.postSubmission)
	auth.POST("/submissions\\:batch", a.postBatch)
}

type questionnaireSummary struct {
	ID       string `json:"id"`
	Version  int    `json:"version"`
	Versions []int  `json:"versions"`
	Title    Text   `json:"title"`
}

func (a *API) listQuestionnaires(c *gin.Context) {
	out := []questionnaireSummary{}
	for _, id := range a.Catalog.IDs() {
		d, _ := a.Catalog.Latest(id)
		out = append(out, questionnaireSummary{ID: id, Version: d.Version, Versions: a.Catalog.Versions(id), Title: d.Title})
	}
	c.JSON(http.StatusOK, gin.H{"questionnaires": out})
}

func (a *API) getQuestionnaire(c *gin.Context) {
	id := c.Param("id")
	d, ok := a.Catalog.Latest(id)
	if v := c.Query("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			AbortWithError(c, a.Logger, NewError(CodeInvalid, "api.version_not_number"))
			return
		}
		d, ok = a.Catalog.Get(id, n)
	}
	if !ok {
		AbortWithError(c, a.Logger, NewError(CodeNotFound, "api.no_questionnaire"))
		return
	}
	c.JSON(http.StatusOK, d)
}

func (a *API) listSites(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"sites": a.Sites.All()})
}

// submissionResponse is the body of 200, 201 and 409 answers.
type submissionResponse struct {
	SubmissionID string `json:"submission_id"`
	Status       string `json:"status"`
}

func (a *API) postSubmission(c *gin.Context) {
	p, _ := PrincipalOf(c)
	if p.Role != RoleIntake {
		AbortWithError(c, a.Logger, NewError(CodeForbidden, "api.intake_only"))
		return
	}
	if !a.Records.SpendRecords(c, p, 1) {
		return
	}
	body, err := readJSONBody(c, MaxSubmissionBytes)
	if err != nil {
		AbortWithError(c, a.Logger, err)
		return
	}
	env, ferrs := DecodeEnvelope(body)
	if ferrs != nil {
		AbortWithError(c, a.Logger, invalid(ferrs))
		return
	}
	rec, err := a.Prepare(p, env)
	if err != nil {
		AbortWithError(c, a.Logger, err)
		return
	}
	outs, err := a.Ingester.Submit(c.Request.Context(), []Record{rec})
	if err != nil {
		AbortWithError(c, a.Logger, err)
		return
	}
	status, word := outcomeStatus(outs[0])
	a.Metrics.outcome(outcomeName(outs[0]), 1)
	c.JSON(status, submissionResponse{SubmissionID: rec.SubmissionID, Status: word})
}

// countRefusal is middleware counting a request answered with an error, by its reason,
// wherever it was refused (authentication, rate limit, validation, store).
func (a *API) countRefusal(c *gin.Context) {
	c.Next()
	if code, ok := c.Get(reasonKey); ok {
		a.Metrics.outcome(string(code.(Code)), 1)
	}
}

func outcomeStatus(o Outcome) (int, string) {
	switch o {
	case Stored:
		return http.StatusCreated, "stored"
	case Replayed:
		return http.StatusOK, "stored"
	}
	return CodeConflict.Status(), "conflict"
}

// Prepare checks an envelope for principal p (questionnaire, version, site and scope,
// answers) and anonymises it. It is the one path from client input to a Record, shared by
// the API, the web form and imports.
func (a *API) Prepare(p Principal, env *Envelope) (Record, error) {
	var ferrs []FieldError
	d, ok := a.Catalog.Latest(env.Questionnaire)
	if !ok {
		ferrs = append(ferrs, FieldError{Item: "questionnaire", Code: ErrUnknownQuest, Key: "api.field.no_questionnaire", Message: "no such questionnaire"})
	} else if d, ok = a.Catalog.Get(env.Questionnaire, env.Version); !ok {
		ferrs = append(ferrs, FieldError{Item: "version", Code: ErrUnknownVersion, Key: "api.field.no_version", Message: "no such version of this questionnaire"})
	}
	if _, known := a.Sites.Get(env.Site); !known {
		ferrs = append(ferrs, FieldError{Item: "site", Code: ErrUnknownSite, Key: "api.field.no_site", Message: "no such site"})
	} else if !p.CanSubmit(env.Site) {
		e := NewError(CodeForbidden, "api.site_not_allowed")
		e.Fields = []FieldError{{Item: "site", Code: ErrSiteNotAllowed, Key: e.Key, Message: e.Message}}
		return Record{}, e
	}
	if ferrs != nil {
		return Record{}, invalid(ferrs)
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	sub, ferrs := Validate(d, env, now)
	if ferrs != nil {
		return Record{}, invalid(ferrs)
	}
	rec, err := a.Anonymiser.Anonymise(sub, now)
	if err != nil {
		return Record{}, &Error{Code: CodeInternal, Key: "api.internal", Message: "internal error", Err: err}
	}
	return rec, nil
}

// batchResult is the per-submission result of a batch.
type batchResult struct {
	Index        int          `json:"index"`
	SubmissionID string       `json:"submission_id,omitempty"`
	Code         int          `json:"code"` // the status the submission alone would have had
	Status       string       `json:"status"`
	Errors       []FieldError `json:"errors,omitempty"`
}

// postBatch takes up to MaxBatchSize submissions. Each gets its own result; the valid
// ones are committed together in one atomic insert, so the answer is 200 with per-item
// codes, or 503 with nothing stored.
func (a *API) postBatch(c *gin.Context) {
	p, _ := PrincipalOf(c)
	if p.Role != RoleIntake {
		AbortWithError(c, a.Logger, NewError(CodeForbidden, "api.intake_only"))
		return
	}
	body, err := readJSONBody(c, MaxBatchBytes)
	if err != nil {
		AbortWithError(c, a.Logger, err)
		return
	}
	items, err := decodeBatch(body)
	if err != nil {
		AbortWithError(c, a.Logger, err)
		return
	}
	if !a.Records.SpendRecords(c, p, len(items)) {
		return
	}
	lang := words.Match(c.GetHeader("Accept-Language"), words.EN)
	results := make([]batchResult, len(items))
	var recs []Record
	var at []int
	for i, raw := range items {
		results[i].Index = i
		env, ferrs := DecodeEnvelope(raw)
		if ferrs != nil {
			results[i].Code, results[i].Status, results[i].Errors = CodeInvalid.Status(), "invalid", translated(ferrs, lang)
			continue
		}
		results[i].SubmissionID = env.SubmissionID
		rec, err := a.Prepare(p, env)
		if err != nil {
			var e *Error
			errors.As(err, &e)
			results[i].Code, results[i].Errors = e.Code.Status(), translated(e.Fields, lang)
			results[i].Status = map[bool]string{true: "forbidden", false: "invalid"}[e.Code == CodeForbidden]
			continue
		}
		recs = append(recs, rec)
		at = append(at, i)
	}
	outs, err := a.Ingester.Submit(c.Request.Context(), recs)
	if err != nil {
		AbortWithError(c, a.Logger, err)
		return
	}
	for j, o := range outs {
		results[at[j]].Code, results[at[j]].Status = outcomeStatus(o)
		a.Metrics.outcome(outcomeName(o), 1)
	}
	for _, r := range results {
		switch r.Status {
		case "invalid":
			a.Metrics.outcome(string(CodeInvalid), 1)
		case "forbidden":
			a.Metrics.outcome(string(CodeForbidden), 1)
		}
	}
	c.JSON(http.StatusOK, gin.H{"results": results})
}

// decodeBatch reads {"submissions":[…]} strictly.
func decodeBatch(body []byte) ([]json.RawMessage, error) {
	if !wellFormed(body) {
		return nil, invalid([]FieldError{{Item: "submissions", Code: ErrMalformed, Key: "api.field.not_json", Message: "the body is not valid JSON in UTF-8"}})
	}
	dec := newDecoder(body)
	keys, vals, dups, err := jsonObject(dec)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err != nil || len(keys) != 1 || keys[0] != "submissions" || len(dups) > 0 {
		return nil, invalid([]FieldError{{Item: "submissions", Code: ErrMalformed, Key: "api.field.batch_shape", Message: `the body must be {"submissions":[…]}`}})
	}
	var items []json.RawMessage
	if err := json.Unmarshal(vals["submissions"], &items); err != nil || items == nil {
		return nil, invalid([]FieldError{{Item: "submissions", Code: ErrWrongType, Key: "api.field.batch_array", Message: "must be an array of submissions"}})
	}
	if len(items) > MaxBatchSize {
		return nil, invalid([]FieldError{{Item: "submissions", Code: ErrTooMany, Key: "api.field.batch_too_many", Args: []any{MaxBatchSize},
			Message: words.EN.T("api.field.batch_too_many", MaxBatchSize)}})
	}
	return items, nil
}

// readJSONBody enforces the JSON content type and the size limit, and reads the body.
func readJSONBody(c *gin.Context, limit int64) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, NewError(CodeMediaType, "api.media_type")
	}
	if c.Request.ContentLength > limit {
		return nil, NewError(CodeTooLarge, "api.too_large", limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, NewError(CodeTooLarge, "api.too_large", limit)
		}
		return nil, NewError(CodeInvalid, "api.unreadable")
	}
	return body, nil
}

// reasonKey holds the code of an error answer in the Gin context, for metrics.
const reasonKey = "tamtam.reason"

// errorPageKey holds the [ErrorPage] of the request's route, if any.
const errorPageKey = "tamtam.errorpage"

// ErrorPage renders an error answer as an HTML page, for the routes people open in a
// browser. It is given the status and the error; the message it shows is the error's key
// (else its code's) in the page's language. Package web implements it.
type ErrorPage interface {
	RenderError(c *gin.Context, status int, e *Error)
}

// UseErrorPage is middleware making [AbortWithError] answer the errors of the routes
// after it as pages rendered by p. Without it (or with a nil p) errors are answered in
// JSON, as the API's are.
func UseErrorPage(p ErrorPage) gin.HandlerFunc {
	return func(c *gin.Context) { SetErrorPage(c, p) }
}

// SetErrorPage is [UseErrorPage] for one request, from a handler: a download route among
// pages answers its errors in JSON, as the API's download does (nil p).
func SetErrorPage(c *gin.Context, p ErrorPage) { c.Set(errorPageKey, p) }

// ErrorStatus returns the status of the answer to err and sets what goes with it: the
// Retry-After of a 429 or 503 (the error's computed wait, else its code's) and the code
// for the metrics. [AbortWithError] calls it; a handler that answers an error with a page
// of its own (a form shown again with its problems) calls it for the status.
func ErrorStatus(c *gin.Context, err error) int {
	e := asError(err)
	c.Set(reasonKey, e.Code)
	wait := e.RetryAfter
	if wait <= 0 {
		wait = e.Code.RetryAfter()
	}
	if wait > 0 {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	}
	return e.Code.Status()
}

// asError returns the *Error of err's chain, or an internal error caused by err.
func asError(err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeInternal, Key: "api.internal", Message: "internal error", Err: err}
	}
	return e
}

// AbortWithError answers the request with err: the one place where errors become HTTP
// answers, for the API, the downloads and the pages alike. The status and Retry-After
// come from the error's code ([ErrorStatus]). On a route with an [ErrorPage] the answer
// is that page; otherwise JSON: {"error":{"code","message"}}, plus the itemised
// "errors" when there are any (a 400 has only those), with messages in the language of
// Accept-Language (English by default). A 5xx says "internal error" (or that the store
// is unavailable) and the details go to the log; request bodies and answers never do.
func AbortWithError(c *gin.Context, log *slog.Logger, err error) {
	e := asError(err)
	status := ErrorStatus(c, e)
	// 500s are bugs: logged with their cause. A 503 is a state (spool full, store
	// lost) that the ingester logs once when it changes, and metrics count.
	if status == http.StatusInternalServerError {
		if log != nil {
			log.Error("request failed", "method", c.Request.Method, "route", c.FullPath(), "status", status, "err", err)
		}
		// The cause stays in the log. A page says it in its own words (the code's key);
		// the API says "internal error".
		e = &Error{Code: CodeInternal, Message: "internal error"}
	}
	if v, _ := c.Get(errorPageKey); v != nil {
		page := v.(ErrorPage)
		page.RenderError(c, status, e)
		c.Abort()
		return
	}
	if e.Code == CodeInternal {
		e.Key = "api.internal"
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="tamtam"`)
	}
	lang := words.Match(c.GetHeader("Accept-Language"), words.EN)
	fields := translated(e.Fields, lang)
	if e.Code == CodeInvalid && len(fields) > 0 {
		c.AbortWithStatusJSON(status, gin.H{"errors": fields})
		return
	}
	body := gin.H{"error": gin.H{"code": e.Code, "message": e.Text(lang)}}
	if len(fields) > 0 {
		body["errors"] = fields
	}
	c.AbortWithStatusJSON(status, body)
}

// translated returns the field errors with their messages in lang (see [Error.Text]).
func translated(fields []FieldError, lang words.Lang) []FieldError {
	var out []FieldError
	for _, f := range fields {
		if f.Key != "" {
			f.Message = lang.T(f.Key, f.Args...)
		}
		out = append(out, f)
	}
	return out
}

// PageContent is what a handler of a page gives the layout of the pages: the page's own
// title, data and scripts. Package web renders it inside the layout (language, menu,
// sign-out); package reports fills it for the dashboard without depending on web.
type PageContent struct {
	Title string
	// Main is the page-specific data.
	Main any
	// Scripts are script files (paths under /static or the page's own) loaded at the end.
	Scripts []string
	// Wide lets the page use the full width (tables, charts).
	Wide bool
}
