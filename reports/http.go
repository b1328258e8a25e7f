package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/web"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// Server serves the published reports to coordinator and funder tokens:
// GET /api/v1/reports/{year}.xlsx and .html (DESIGN.md §3). A funder only ever gets its
// own sites; every download, and every refusal, is audited, and each download is a
// release recorded in the ledger.
type Server struct {
	Source         Source
	Catalog        *Catalog
	Sites          *collector.Sites
	Auth           *collector.Authenticator
	Limiter        *collector.RateLimiter // nil: no rate limit
	Ledger         Ledger
	Auditor        collector.Auditor
	Policy         *disclosure.Policy
	Questionnaires []string
	Logger         *slog.Logger     // nil: discard
	Now            func() time.Time // nil: time.Now

	sessions *web.Sessions // the dashboard's, set by UsePages
	pages    *web.Pages
	scripts  *web.Cache
}

// Mount registers the report routes on r, and the dashboard's after [Server.UsePages].
func (s *Server) Mount(r gin.IRouter) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	r.GET("/api/v1/reports/:file", s.Auth.RequireToken(), s.Limiter.Middleware(), s.download)
	if s.pages != nil {
		s.mountPages(r)
	}
}

var reportFile = regexp.MustCompile(`^(\d{4})\.(xlsx|html)$`)

func (s *Server) download(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	m := reportFile.FindStringSubmatch(c.Param("file"))
	if m == nil {
		collector.AbortWithError(c, s.Logger, collector.Errorf(collector.CodeNotFound, "reports are /api/v1/reports/YEAR.xlsx or YEAR.html"))
		return
	}
	year, _ := strconv.Atoi(m[1])
	lang := c.DefaultQuery("lang", "fr")
	if !slices.Contains(collector.Languages, lang) {
		collector.AbortWithError(c, s.Logger, collector.Errorf(collector.CodeInvalid, "lang must be fr, nl or en"))
		return
	}
	sites, err := s.scope(p, c.QueryArray("site"))
	event := collector.AuditEvent{At: s.Now(), Actor: p.TokenID, Role: string(p.Role), Sites: sites,
		Action: "report.download", Detail: c.Param("file") + "?lang=" + lang}
	if err != nil {
		event.Outcome = "denied"
		s.audit(event)
		collector.AbortWithError(c, s.Logger, err)
		return
	}
	body, contentType, err := s.render(c.Request.Context(), p, year, sites, lang, m[2])
	if err != nil {
		event.Outcome = "failed"
		s.audit(event)
		if errors.Is(err, ErrNoData) {
			err = collector.Errorf(collector.CodeNotFound, "no questionnaire of %d in the sites of this token", year)
		}
		collector.AbortWithError(c, s.Logger, err)
		return
	}
	event.Outcome = "ok"
	s.audit(event)
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="tamtam-%d.%s"`, year, m[2]))
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, contentType, body)
}

// scope returns the sites a principal's report covers: all sites (or those asked) for a
// coordinator, the funder's own sites (or the asked subset of them) for a funder.
func (s *Server) scope(p collector.Principal, asked []string) ([]string, error) {
	if p.Role != collector.RoleCoordinator && p.Role != collector.RoleFunder {
		return nil, collector.Errorf(collector.CodeForbidden, "only coordinator and funder tokens read reports")
	}
	var out []string
	for _, site := range s.Sites.All() {
		if !p.CanRead(site.Code) {
			continue
		}
		if len(asked) == 0 || slices.Contains(asked, site.Code) {
			out = append(out, site.Code)
		}
	}
	for _, a := range asked {
		if _, known := s.Sites.Get(a); !known {
			return nil, collector.Errorf(collector.CodeInvalid, "unknown site %q", a)
		}
		if !p.CanRead(a) {
			return nil, collector.Errorf(collector.CodeForbidden, "this token may not read site %q", a)
		}
	}
	// A funder's figures always cover all of its sites. Two releases over nested sets of
	// sites could be subtracted from each other, which would give back the cells that
	// disclosure control suppresses, and a small site that is only ever shown pooled.
	if p.Role == collector.RoleFunder && len(asked) > 0 && len(out) != len(s.readable(p)) {
		return nil, collector.Errorf(collector.CodeForbidden, "a funder's figures cover all of its sites together; leave out site=")
	}
	return out, nil
}

// readable returns the known sites p may read.
func (s *Server) readable(p collector.Principal) []string {
	var out []string
	for _, site := range s.Sites.All() {
		if p.CanRead(site.Code) {
			out = append(out, site.Code)
		}
	}
	return out
}

func (s *Server) render(ctx context.Context, p collector.Principal, year int, sites []string, lang, format string) ([]byte, string, error) {
	f, err := Build(ctx, s.Source, s.Catalog, Options{Year: year, Sites: sites, Policy: s.Policy, SiteNames: s.siteNames()})
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	contentType := "text/html; charset=utf-8"
	if format == "xlsx" {
		contentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		err = WriteWorkbook(&buf, f, WorkbookOptions{Lang: lang, Questionnaires: s.Questionnaires})
	} else {
		err = WriteHTML(&buf, f, HTMLOptions{Lang: lang})
	}
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	name := fmt.Sprintf("%d.%s", year, format)
	settings := (&Manifest{Tool: "tamtam", Year: year, Sites: sites, PooledSites: f.Pooled, Lang: lang,
		DataCutOff: f.CutOff, Disclosure: f.Config, Questionnaires: s.Questionnaires}).Settings()
	if err := s.Ledger.RecordRelease(ctx, LedgerEntry{At: s.Now(), Actor: p.TokenID, Role: string(p.Role), Year: year, Sites: sites,
		Lang: lang, K: f.Config.K, CutOff: f.CutOff, Settings: settings,
		Files: []FileHash{{Name: name, SHA256: hex.EncodeToString(sum[:])}}}); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), contentType, nil
}

// audit records e with its own short context: a refused or failed request is audited too,
// whatever happened to the request's context.
func (s *Server) audit(e collector.AuditEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Auditor.Audit(ctx, e); err != nil {
		s.Logger.Error("audit failed", "action", e.Action, "err", err)
	}
}
