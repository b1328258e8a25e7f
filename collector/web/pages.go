package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Pages renders the HTML pages of tamtam, each inside one layout (header, menu by role,
// language switch, sign-out), with the security headers of [Headers]. Package collector's
// pages and the reports dashboard both render through it, so they look and behave alike.
type Pages struct {
	sessions *Sessions
	log      *slog.Logger
	base     *template.Template
	pages    map[string]*template.Template
}

// NewPages parses the layout and the pages of this package.
func NewPages(sessions *Sessions, log *slog.Logger) (*Pages, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, err := template.New("layout.html").Funcs(template.FuncMap{
		"join": strings.Join,
		"checkedAny": func(opts []option) bool {
			return slices.ContainsFunc(opts, func(o option) bool { return o.Checked })
		},
	}).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	p := &Pages{sessions: sessions, log: log, base: base, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: pages: %w", err)
	}
	for _, name := range names {
		if path.Base(name) == "layout.html" {
			continue
		}
		if err := p.Add(strings.TrimSuffix(path.Base(name), ".html"), templateFiles, name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Add parses the page called name from the files of fsys matching patterns. The files
// define the template "content" (the page's main element) and may define "head" (extra
// elements of the head, e.g. a script file). Other packages add their pages this way.
func (p *Pages) Add(name string, fsys fs.FS, patterns ...string) error {
	t, err := p.base.Clone()
	if err != nil {
		return fmt.Errorf("web: page %s: %w", name, err)
	}
	if _, err := t.ParseFS(fsys, patterns...); err != nil {
		return fmt.Errorf("web: page %s: %w", name, err)
	}
	p.pages[name] = t
	return nil
}

// Page is what the layout shows around a page's content (title, main data, scripts: the
// [collector.PageContent] a handler fills), and the content's data.
type Page struct {
	collector.PageContent
	Lang string
	// User is the signed-in principal, nil on the sign-in page.
	User  *collector.Principal
	CSRF  string
	Nav   []Link
	Langs []Link
}

// T returns the page text key in the page's language.
func (p *Page) T(key string) string { return word(key, p.Lang) }

// Link is an entry of the menu or of the language switch.
type Link struct {
	Href, Label, Lang string
	Current           bool
}

// NewPage returns the frame of a page for the request: its language, the signed-in user
// (if any) with the menu of their role, the CSRF token and the language links.
func (p *Pages) NewPage(c *gin.Context, titleKey string) *Page {
	lang := Lang(c)
	pg := &Page{Lang: lang}
	pg.Title = word(titleKey, lang)
	if pr, ok := collector.PrincipalOf(c); ok {
		pg.User = &pr
		pg.CSRF = p.sessions.CSRF(c)
		pg.Nav = navFor(pr.Role, lang, c.Request.URL.Path)
	}
	for _, l := range collector.Languages {
		q := c.Request.URL.Query()
		q.Set("lang", l)
		pg.Langs = append(pg.Langs, Link{Href: c.Request.URL.Path + "?" + q.Encode(), Label: strings.ToUpper(l), Lang: l, Current: l == lang})
	}
	return pg
}

// navFor is the menu of a role: intake workers fill and import questionnaires and see no
// figures; coordinators and funders see the dashboard; coordinators also the audit log.
func navFor(role collector.Role, lang, current string) []Link {
	var keys []string
	switch role {
	case collector.RoleIntake:
		keys = []string{"/forms", "nav_forms", "/import", "nav_import"}
	case collector.RoleCoordinator:
		keys = []string{"/reports", "nav_reports", "/audit", "nav_audit"}
	case collector.RoleFunder:
		keys = []string{"/reports", "nav_reports"}
	}
	var out []Link
	for i := 0; i < len(keys); i += 2 {
		out = append(out, Link{Href: keys[i], Label: word(keys[i+1], lang),
			Current: current == keys[i] || strings.HasPrefix(current, keys[i]+"/")})
	}
	return out
}

// Render writes page name with status. A page holds answers or figures meant for one
// person: it is never cached.
func (p *Pages) Render(c *gin.Context, status int, name string, pg *Page) {
	// A page that cannot be rendered is a bug; so would the error page be, whose
	// rendering it cannot rely on: the answer is a bare 500.
	t, ok := p.pages[name]
	if !ok {
		p.log.Error("page failed", "page", name, "err", "no such page template")
		c.AbortWithStatus(collector.CodeInternal.Status())
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		p.log.Error("page failed", "page", name, "err", err)
		c.AbortWithStatus(collector.CodeInternal.Status())
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// Show renders page name with the content a handler filled, inside the layout of the
// request (language, user, menu): the dashboard of package reports renders this way.
func (p *Pages) Show(c *gin.Context, status int, name string, content collector.PageContent) {
	pg := p.NewPage(c, "")
	pg.PageContent = content
	p.Render(c, status, name, pg)
}

// Lang returns the language of the request's page (see [Lang]).
func (p *Pages) Lang(c *gin.Context) string { return Lang(c) }

// errorPage is the content of the error page.
type errorPage struct{ Message string }

// RenderError renders the error page of e with status: the message of e's key, else of
// its code's, in the page's language. It implements [collector.ErrorPage]: errors reach
// it through [collector.AbortWithError] on the routes behind [Pages.Middleware].
func (p *Pages) RenderError(c *gin.Context, status int, e *collector.Error) {
	pg := p.NewPage(c, "error_title")
	key := e.Key
	if key == "" {
		key = e.Code.Key()
	}
	pg.Main = errorPage{Message: words.Lang(pg.Lang).T(key, e.Args...)}
	p.Render(c, status, "error", pg)
}

var _ collector.ErrorPage = (*Pages)(nil)

// Middleware is the middleware of every page route: the security headers of [Headers],
// and error answers rendered as the error page (see [collector.UseErrorPage]).
func (p *Pages) Middleware() gin.HandlerFunc {
	headers, errorsAsPages := Headers(), collector.UseErrorPage(p)
	return func(c *gin.Context) {
		errorsAsPages(c)
		headers(c)
	}
}

// Lang returns the language of the request: ?lang= (remembered in a cookie), else the
// remembered one, else French.
func Lang(c *gin.Context) string {
	if l := c.Query("lang"); slices.Contains(collector.Languages, l) {
		if v, _ := c.Cookie(langCookie); v != l {
			http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		return l
	}
	if l, err := c.Cookie(langCookie); err == nil && slices.Contains(collector.Languages, l) {
		return l
	}
	return collector.Languages[0]
}

// ContentSecurityPolicy is the policy of every page: scripts and styles only from
// tamtam's own files (no inline script), no framing, forms posted only to tamtam, no
// plugin, no base tag. Charts draw with inline style attributes that ECharts sets from
// script, which style-src-attr allows; images may be data: URLs (chart exports).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Headers is middleware setting the security headers of the pages.
func Headers() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if c.Request.TLS != nil {
			// tamtam serves TLS itself (--tls-cert): browsers are to keep to HTTPS.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		c.Next()
	}
}

// serveStatic serves the style sheet and scripts of the pages.
func serveStatic(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	var data []byte
	err := errors.New("web: no such static file")
	if name != "" && !strings.Contains(name, "..") {
		data, err = staticFiles.ReadFile("static/" + name)
	}
	if err != nil {
		collector.AbortWithError(c, nil, &collector.Error{Code: collector.CodeNotFound, Key: "not_found", Err: err})
		return
	}
	ctype := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ctype, data)
}

// localPath returns next if it is a path of this site ("/forms/entry?lang=nl"), else "".
// It keeps the sign-in redirect from sending anyone elsewhere.
func localPath(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, "\\") {
		return ""
	}
	return u.RequestURI()
}
