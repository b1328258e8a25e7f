package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestServeOpenAPI checks the answers of GET /api/v1/openapi.json: the embedded document
// as it is, with an ETag that a revalidation names to get 304. (cmd/tamtam's
// TestOpenAPI* check the document against the engine and its answers.)
func TestServeOpenAPI(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("the embedded document: openapi %v, %v", doc["openapi"], err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.GET("/api/v1/openapi.json", serveOpenAPI)
	get := func(ifNoneMatch string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil)
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	w := get("")
	etag := w.Header().Get("ETag")
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), OpenAPI()) || w.Header().Get("Content-Type") != "application/json" || etag == "" {
		t.Fatalf("GET = %d, Content-Type %q, ETag %q, the document: %v; want 200, application/json, an ETag, the document",
			w.Code, w.Header().Get("Content-Type"), etag, bytes.Equal(w.Body.Bytes(), OpenAPI()))
	}
	tests := []struct {
		ifNoneMatch string
		want        int
	}{
		{etag, http.StatusNotModified},
		{"W/" + etag, http.StatusNotModified},
		{`"other", ` + etag, http.StatusNotModified},
		{"*", http.StatusNotModified},
		{`"other"`, http.StatusOK},
	}
	for _, tt := range tests {
		w := get(tt.ifNoneMatch)
		if w.Code != tt.want || w.Header().Get("ETag") != etag {
			t.Errorf("GET with If-None-Match %s = %d, ETag %q; want %d, %q", tt.ifNoneMatch, w.Code, w.Header().Get("ETag"), tt.want, etag)
		}
		if tt.want == http.StatusNotModified && w.Body.Len() != 0 {
			t.Errorf("GET with If-None-Match %s: a 304 with a body", tt.ifNoneMatch)
		}
	}
}
