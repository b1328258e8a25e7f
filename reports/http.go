package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/tamtam-ngo/tamtam/collector"
)

// Server serves the published releases to coordinator and funder tokens:
// GET /api/v1/reports/{year}.xlsx, .html and .csv (DESIGN.md §3), and the dashboard.
// Every number is a cell of a stored release (PRIVACY.md R11): a download is the
// caller's view of the year's latest release, the same bytes until a new release is
// made, and nothing is computed on demand. A funder only ever gets its own group. Every
// download, and every refusal, is audited; every delivery is recorded in the ledger. A
// file is sent only once its audit row is written: when the audit log cannot be written,
// the download is refused with 503 and Retry-After, and nothing is sent.
type Server struct {
	Publisher *Publisher
	// Source gives the live arrivals of the dashboard, which count questionnaires and
	// carry no answer.
	Source  Source
	Catalog *Catalog
	Sites   *collector.Sites
	Auth    *collector.Authenticator
	Limiter *collector.RateLimiter // nil: no rate limit
	Ledger  Ledger
	Auditor collector.Auditor
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now

	sessions Sessions // the dashboard's, set by UsePages
	pages    Pages
	scripts  *collector.PrivateCache

	rendered *lru.Cache[string, []byte]
	flight   singleflight.Group
}

// Mount registers the report routes on r, and the dashboard's after [Server.UsePages].
func (s *Server) Mount(r gin.IRouter) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	s.rendered, _ = lru.New[string, []byte](64) // 64 > 0: never an error
	r.GET("/api/v1/reports/:file", s.Auth.RequireToken(), s.Limiter.Middleware(), s.download)
	if s.pages != nil {
		s.mountPages(r)
	}
}

// Pages is the shell the dashboard renders in: the layout, security headers and error
// page shared by every page. It is implemented by *web.Pages; reports declares what it
// uses so that rendering figures does not depend on the intake pages.
type Pages interface {
	// Add parses the page called name from the files of fsys matching patterns.
	Add(name string, fsys fs.FS, patterns ...string) error
	// Middleware sets the pages' security headers and answers errors with the error page.
	Middleware() gin.HandlerFunc
	// Lang is the language of the request's page.
	Lang(c *gin.Context) string
	// Show renders page name, with content, inside the layout.
	Show(c *gin.Context, status int, name string, content collector.PageContent)
}

// Sessions guards the dashboard (implemented by *web.Sessions).
type Sessions interface {
	// Require is middleware admitting a signed-in principal of one of roles, and
	// answering anyone else (sign-in first, or 403).
	Require(roles ...collector.Role) gin.HandlerFunc
}

var reportFile = regexp.MustCompile(`^(\d{4})\.(xlsx|html|csv)$`)

// contentTypes are the media types of the downloads.
var contentTypes = map[string]string{
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"html": "text/html; charset=utf-8",
	"csv":  "text/csv; charset=utf-8",
}

func (s *Server) download(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	m := reportFile.FindStringSubmatch(c.Param("file"))
	if m == nil {
		collector.AbortWithError(c, s.Logger, collector.NewError(collector.CodeNotFound, "api.report_file"))
		return
	}
	year, _ := strconv.Atoi(m[1])
	lang := c.DefaultQuery("lang", "fr")
	event := collector.AuditEvent{At: s.Now(), Actor: p.TokenID, Role: string(p.Role), Sites: s.readable(p),
		Action: "report.download", Detail: c.Param("file") + "?lang=" + lang}
	fail := func(outcome string, err error) {
		event.Outcome = outcome
		s.audit(event)
		collector.AbortWithError(c, s.Logger, err)
	}
	if !slices.Contains(collector.Languages, lang) {
		fail("denied", collector.NewError(collector.CodeInvalid, "api.report_lang"))
		return
	}
	if p.Role != collector.RoleCoordinator && p.Role != collector.RoleFunder {
		fail("denied", collector.NewError(collector.CodeForbidden, "api.report_roles"))
		return
	}
	if err := s.checkSites(p, c.QueryArray("site")); err != nil {
		fail("denied", err)
		return
	}
	rel, err := s.release(c.Request.Context(), year, c.Query("release"))
	if err != nil {
		fail("failed", err)
		return
	}
	g, err := s.groupFor(p, rel, c.QueryArray("site"), c.Query("group"))
	if err != nil {
		fail("denied", err)
		return
	}
	history, err := s.Publisher.History(c.Request.Context(), rel.Year)
	if err != nil {
		fail("failed", &collector.Error{Code: collector.CodeUnavailable, Key: "api.releases_unreadable", Message: "the releases cannot be read now", Err: err})
		return
	}
	body, err := s.render(rel, history, g, lang, m[2], c.Query("questionnaire"))
	if err != nil {
		fail("failed", err)
		return
	}
	event.Detail += " release " + rel.ID + " " + g.Code
	if err := s.recordDelivery(c.Request.Context(), p, rel, g, lang, c.Param("file"), body); err != nil {
		fail("failed", err)
		return
	}
	// The audit row is the last write before the bytes: a download the audit log does
	// not show never happens. (The ledger's row comes first: a delivery recorded but
	// refused here overstates what left the system, never the reverse.)
	event.Outcome = "ok"
	if err := s.auditServed(c.Request.Context(), event); err != nil {
		collector.AbortWithError(c, s.Logger, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="tamtam-%d.%s"`, year, m[2]))
	c.Header("Cache-Control", "no-store")
	c.Header("ETag", `"`+etag(rel, history)+`"`)
	c.Data(http.StatusOK, contentTypes[m[2]], body)
}

// release returns the year's latest release, or the one asked for.
func (s *Server) release(ctx context.Context, year int, id string) (*Release, error) {
	var (
		rel *Release
		err error
	)
	if id != "" {
		rel, err = s.Publisher.Find(ctx, year, id)
	} else {
		rel, err = s.Publisher.Latest(ctx, year)
	}
	if errors.Is(err, ErrNoRelease) {
		if id != "" {
			return nil, collector.NewError(collector.CodeNoRelease, "api.release_unknown", id, year)
		}
		return nil, collector.NewError(collector.CodeNoRelease, "api.release_none", year, year)
	}
	if err != nil {
		return nil, &collector.Error{Code: collector.CodeUnavailable, Key: "api.releases_unreadable", Message: "the releases cannot be read now", Err: err}
	}
	return rel, nil
}

// groupFor returns the publication group a principal sees: for a coordinator all sites,
// or the group asked for (by code, or by its exact sites); for a funder the group of its
// sites, and nothing else.
func (s *Server) groupFor(p collector.Principal, rel *Release, sites []string, code string) (Group, error) {
	if err := s.checkSites(p, sites); err != nil {
		return Group{}, err
	}
	if p.Role == collector.RoleFunder {
		// The funder's sites that the release covers: a site with no record yet is in
		// no group.
		all, _ := rel.Plan.group(AllGroup)
		var own []string
		for _, site := range s.readable(p) {
			if slices.Contains(all.Sites, site) {
				own = append(own, site)
			}
		}
		g, err := rel.GroupOf(own)
		if err != nil {
			return Group{}, collector.NewError(collector.CodeNoRelease, "api.release_no_group", rel.ID)
		}
		if (code != "" && code != g.Code) || (len(sites) > 0 && !slices.Equal(sorted(sites), g.Sites)) {
			return Group{}, collector.NewError(collector.CodeForbidden, "api.funder_group")
		}
		return g, nil
	}
	switch {
	case code != "":
		g, ok := rel.Plan.group(code)
		if !ok {
			return Group{}, collector.NewError(collector.CodeInvalid, "api.release_group_unknown", rel.ID, code)
		}
		return g, nil
	case len(sites) > 0:
		g, err := rel.GroupOf(sites)
		if err != nil {
			return Group{}, collector.Errorf(collector.CodeInvalid, "%v", err)
		}
		return g, nil
	}
	g, _ := rel.Plan.group(AllGroup)
	return g, nil
}

// checkSites refuses a site= parameter naming an unknown site (400) or one the token
// may not read (403), before anything else is looked at.
func (s *Server) checkSites(p collector.Principal, sites []string) error {
	for _, a := range sites {
		if _, known := s.Sites.Get(a); !known {
			return collector.NewError(collector.CodeInvalid, "api.site_unknown", a)
		}
		if !p.CanRead(a) {
			return collector.NewError(collector.CodeForbidden, "api.site_not_readable", a)
		}
	}
	return nil
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

// render returns a view of a release as a file, rendered once per release, history (the
// releases its trends show), group, language, format and questionnaire ("" for all):
// releases never change, so neither do their files.
func (s *Server) render(rel *Release, history []*Release, g Group, lang, format, questionnaire string) ([]byte, error) {
	key := rel.ID + "|" + HistoryKey(history) + "|" + g.Code + "|" + lang + "|" + format + "|" + questionnaire
	if b, ok := s.rendered.Get(key); ok {
		return b, nil
	}
	v, err, _ := s.flight.Do(key, func() (any, error) {
		f, err := s.view(rel, history, g, questionnaire)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		switch format {
		case "xlsx":
			err = WriteWorkbook(&buf, f, WorkbookOptions{Lang: lang, Questionnaires: f.Questionnaires})
		case "html":
			err = WriteHTML(&buf, f, HTMLOptions{Lang: lang})
		default:
			err = WriteCSV(&buf, f)
		}
		if err != nil {
			return nil, err
		}
		s.rendered.Add(key, buf.Bytes())
		return buf.Bytes(), nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// view is the view of group g of a release, of one questionnaire when one is named: the
// release must have figures of it.
func (s *Server) view(rel *Release, history []*Release, g Group, questionnaire string) (*Figures, error) {
	f, err := rel.View(s.Catalog, g.Code, s.siteNames())
	if err == nil {
		err = f.AddTrends(history)
	}
	if err != nil || questionnaire == "" {
		return f, err
	}
	if !slices.Contains(f.QuestionnaireIDs(), questionnaire) {
		return nil, collector.NewError(collector.CodeNotFound, "not_found")
	}
	return f.Only(questionnaire), nil
}

// etag names the bytes of a view: its release, and the releases its trends show when
// there are any.
func etag(rel *Release, history []*Release) string {
	if len(history) == 0 {
		return rel.ID
	}
	sum := sha256.Sum256([]byte(HistoryKey(history)))
	return rel.ID + "+" + hex.EncodeToString(sum[:6])
}

// recordDelivery records in the ledger who received which file of which release.
func (s *Server) recordDelivery(ctx context.Context, p collector.Principal, rel *Release, g Group, lang, name string, body []byte) error {
	sum := sha256.Sum256(body)
	f := &Figures{Year: rel.Year, Release: rel.ID, Group: g, Sites: g.Sites, Pooled: rel.Plan.Pooled, CutOff: rel.CutOff,
		Config: rel.Config, Questionnaires: rel.Questionnaires}
	m := f.manifest(lang)
	return s.Ledger.RecordRelease(ctx, LedgerEntry{At: s.Now(), Actor: p.TokenID, Role: string(p.Role), Year: rel.Year,
		Sites: g.Sites, Lang: lang, K: rel.Config.K, CutOff: rel.CutOff, Settings: m.Settings(),
		Files: []FileHash{{Name: name, SHA256: hex.EncodeToString(sum[:])}}})
}

// auditTimeout bounds an audit write. A download waits for its audit row, so it is also
// the longest a download waits on a slow store before it is refused.
const auditTimeout = 5 * time.Second

// writeAudit records e with its own bounded context, detached from the request's: the
// rows written before it (the ledger's) stand whatever happens to the client. A failure
// is logged here, with the action and outcome that were not recorded.
func (s *Server) writeAudit(ctx context.Context, e collector.AuditEvent) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := s.Auditor.Audit(ctx, e); err != nil {
		s.Logger.Error("audit failed", "action", e.Action, "outcome", e.Outcome, "err", err)
		return err
	}
	return nil
}

// auditServed records that figures are about to be served, before they are: it returns
// a [collector.CodeUnavailable] error (503 with Retry-After) when the audit log cannot
// be written, and the caller then serves nothing.
func (s *Server) auditServed(ctx context.Context, e collector.AuditEvent) error {
	if err := s.writeAudit(ctx, e); err != nil {
		e := collector.NewError(collector.CodeUnavailable, "api.audit_unwritable")
		e.Err = err
		return e
	}
	return nil
}

// audit records a refusal or a failure: nothing is served then, so an audit row that
// cannot be written is logged and the answer goes out as it is.
func (s *Server) audit(e collector.AuditEvent) {
	s.writeAudit(context.Background(), e)
}

func (s *Server) siteNames() map[string]Text {
	names := map[string]Text{}
	for _, site := range s.Sites.All() {
		names[site.Code] = site.Name
	}
	return names
}
