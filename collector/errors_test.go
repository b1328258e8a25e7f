package collector

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector/words"
)

// TestCodeTable checks that every code has a status and a message key of the catalogue,
// and that only 429 and 503 ask for a wait.
func TestCodeTable(t *testing.T) {
	for code, a := range answers {
		if a.status < 400 || !words.Has(a.key) {
			t.Errorf("answers[%s] = status %d key %q, want an error status and a key of the catalogue", code, a.status, a.key)
		}
		if retry := a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable; retry != (a.retryAfter > 0) {
			t.Errorf("answers[%s]: Retry-After %s with status %d", code, a.retryAfter, a.status)
		}
	}
	if got := Code("nonsense").Status(); got != http.StatusInternalServerError {
		t.Errorf("Code(nonsense).Status() = %d, want 500", got)
	}
}

// fakePage records the error it was asked to render.
type fakePage struct {
	status int
	e      *Error
}

func (p *fakePage) RenderError(c *gin.Context, status int, e *Error) {
	p.status, p.e = status, e
	c.String(status, "page")
}

// TestAbortWithError checks the one error answer: status, Retry-After, JSON shape and
// language, and the page on a route with an ErrorPage.
func TestAbortWithError(t *testing.T) {
	gin.SetMode(gin.TestMode)
	page := &fakePage{}
	invalidErr := invalid([]FieldError{{Item: "site", Code: ErrUnknownSite, Message: "no such site", Key: "api.field.no_site"}})
	r := gin.New()
	r.GET("/limited", func(c *gin.Context) {
		AbortWithError(c, nil, RateLimited("api.too_many_requests", 2500*time.Millisecond))
	})
	r.GET("/unavailable", func(c *gin.Context) {
		AbortWithError(c, nil, NewError(CodeUnavailable, "api.store_unavailable"))
	})
	r.GET("/invalid", func(c *gin.Context) { AbortWithError(c, nil, invalidErr) })
	r.GET("/bug", func(c *gin.Context) { AbortWithError(c, nil, errors.New("secret detail")) })
	r.GET("/page", UseErrorPage(page), func(c *gin.Context) { AbortWithError(c, nil, NewError(CodeForbidden, "forbidden_role")) })
	r.GET("/page-download", UseErrorPage(page), func(c *gin.Context) {
		SetErrorPage(c, nil)
		AbortWithError(c, nil, NewError(CodeNotFound, "api.report_file"))
	})
	tests := []struct {
		path, lang string
		status     int
		retry      string
		body       string
	}{
		{"/limited", "", 429, "3", `{"error":{"code":"rate_limited","message":"too many requests for this token; retry later"}}`},
		{"/unavailable", "nl", 503, "5", `{"error":{"code":"unavailable","message":"de databank is niet beschikbaar; probeer later opnieuw"}}`},
		{"/invalid", "fr", 400, "", `{"errors":[{"item":"site","code":"unknown_site","message":"ce site n'existe pas"}]}`},
		{"/bug", "", 500, "", `{"error":{"code":"internal","message":"internal error"}}`},
		{"/page", "", 403, "", `page`},
		{"/page-download", "", 404, "", `{"error":{"code":"not_found","message":"reports are /api/v1/reports/YEAR.xlsx, YEAR.html or YEAR.csv"}}`},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		if tt.lang != "" {
			req.Header.Set("Accept-Language", tt.lang)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retry || w.Body.String() != tt.body {
			t.Errorf("GET %s (%s) = %d Retry-After %q %s, want %d %q %s", tt.path, tt.lang, w.Code,
				w.Header().Get("Retry-After"), w.Body, tt.status, tt.retry, tt.body)
		}
		if tt.body != "page" && !json.Valid(w.Body.Bytes()) {
			t.Errorf("GET %s: body is not JSON", tt.path)
		}
	}
	if page.status != http.StatusForbidden || page.e.Key != "forbidden_role" {
		t.Errorf("page asked to render %d %+v, want 403 forbidden_role", page.status, page.e)
	}
	// A bug on a page: the page says it in its own words (the code's key), and neither
	// the page nor the client ever sees the cause.
	r.GET("/page-bug", UseErrorPage(page), func(c *gin.Context) { AbortWithError(c, nil, errors.New("secret detail")) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/page-bug", nil))
	if page.status != http.StatusInternalServerError || page.e.Key != "" || page.e.Err != nil || page.e.Code != CodeInternal {
		t.Errorf("page asked to render %d %+v, want 500, code internal, no key, no cause", page.status, page.e)
	}
}
