package collector

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// openAPIDocument is the OpenAPI 3.1 document of every route of tamtam's listener: the
// API, the health checks and the pages. It is kept by hand beside the code it describes;
// a test in cmd/tamtam checks it against the engine's routes and the answers it gives.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is the document's entity tag: it changes only with the document.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// OpenAPI returns the OpenAPI 3.1 document served at /api/v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// serveOpenAPI answers the document as it is embedded. Clients revalidate (no-cache)
// with its ETag and get 304 while it is unchanged.
func serveOpenAPI(c *gin.Context) {
	c.Header("ETag", openAPIETag)
	c.Header("Cache-Control", "no-cache")
	if etagMatches(c.GetHeader("If-None-Match"), openAPIETag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json", openAPIDocument)
}

// etagMatches reports whether an If-None-Match header names etag (weakly, as GET
// compares), or is "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
