package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/paper"
)

// AuditReader reads the audit log for the coordinator's page. It is implemented by
// package queries (through cmd/tamtam).
type AuditReader interface {
	AuditEvents(ctx context.Context, since time.Time, action string, limit int) ([]collector.AuditEvent, error)
}

// Server serves the pages of intake workers and of the coordinator's audit log: sign-in,
// the questionnaire forms, the import of paper forms (DESIGN.md §3, "Web"). Every answer
// goes through [collector.API.Prepare] and the API's ingester: a form is validated,
// anonymised and made durable exactly like an API submission.
type Server struct {
	API      *collector.API
	Sessions *Sessions
	Pages    *Pages
	// Importer checks and stores uploaded files; its Submitter and Lookup are the
	// store's, as for tamtam import.
	Importer *paper.Importer
	Auditor  collector.Auditor
	Audit    AuditReader
	Logger   *slog.Logger // nil: discard
	// Now is the clock (nil: time.Now). It is read on every use, so a test may set it
	// after Mount: the sign-in limit then follows the test's time.
	Now func() time.Time

	logins  *collector.RateLimiter // sign-in attempts, by client address
	uploads chan struct{}          // a slot per upload being read
	// uploading holds the tokens with an upload being read: one at a time each.
	uploadMu  sync.Mutex
	uploading map[string]bool
	// annotated keeps the annotated workbook of each check with problems for its
	// uploader to download (it holds answers: in memory, briefly, for them only).
	annotated *collector.PrivateCache
}

// signInRate is how many sign-in attempts a client address may make per second (bursts of
// two). A token cannot be guessed, but every attempt is written to the audit log: a
// flood must not become a flood of inserts.
const signInRate = 1

// Mount registers the pages on r.
func (s *Server) Mount(r gin.IRouter) {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.logins = collector.NewRateLimiter(signInRate, s.now)
	pages := r.Group("", s.Pages.Middleware())
	pages.GET("/static/*file", serveStatic)
	pages.GET("/", s.home)
	pages.GET("/login", s.loginPage)
	pages.POST("/login", s.login)
	pages.POST("/logout", s.Sessions.Require(), s.logout)
	pages.POST("/forms/:questionnaire", s.Sessions.Require(collector.RoleIntake), s.limit, s.spendRecord, s.postForm)
	// An upload is read whole into memory, only for a signed-in intake worker, and only
	// a few at a time.
	s.uploads, s.uploading = make(chan struct{}, maxConcurrentUploads), map[string]bool{}
	pages.POST("/import", s.Sessions.Authenticate(collector.RoleIntake), s.limit, s.uploadSlot,
		s.Sessions.Form(maxUpload+1<<20), s.postImport)

	intake := pages.Group("", s.Sessions.Require(collector.RoleIntake), s.limit)
	intake.GET("/forms", s.formList)
	intake.GET("/forms/:questionnaire", s.formPage)
	intake.GET("/forms/:questionnaire/done", s.donePage)
	intake.GET("/forms/:questionnaire/template.xlsx", s.template)
	intake.GET("/import", s.importPage)
	s.annotated = collector.NewPrivateCache(15*time.Minute, 128<<20, 4, s.now)
	intake.GET("/import/annotated/:id", s.annotatedFile)

	coord := pages.Group("", s.Sessions.Require(collector.RoleCoordinator), s.limit)
	coord.GET("/audit", s.auditPage)
}

// now reads the clock.
func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// fail answers the request with err as the error page (see [collector.AbortWithError]).
func (s *Server) fail(c *gin.Context, err error) { collector.AbortWithError(c, s.Logger, err) }

// limit applies the token's request rate (--rate-limit) to the pages as to the API: a
// page is a request of the token its session was opened with, so a browser (or a script
// holding a session cookie) gets no more than a bearer token.
func (s *Server) limit(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	if ok, wait := s.API.Limiter.Allow(p.TokenID); !ok {
		s.fail(c, collector.RateLimited("too_many_requests", wait))
	}
}

// spendRecord spends one record of the token's budget for a form (see
// [collector.NewRecordBudget]), as the API does for a submission.
func (s *Server) spendRecord(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	if ok, wait := s.API.Records.AllowN(p.TokenID, 1); !ok {
		s.fail(c, collector.RateLimited("too_many_requests", wait))
	}
}

// home sends a browser to the sign-in page, or to the first page of its role.
func (s *Server) home(c *gin.Context) {
	if p, ok := s.Sessions.principal(c); ok {
		c.Redirect(http.StatusSeeOther, homeOf(p.Role))
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

func homeOf(r collector.Role) string {
	if r == collector.RoleIntake {
		return "/forms"
	}
	return "/reports"
}

// readForm reads the form of a POST, capped at limit bytes: a CodeTooLarge error when it
// is too large, CodeInvalid when it cannot be read. An upload
// (multipart) is read whole into memory: the cap is below the memory the parser may use,
// so no part of a file, which holds exact answers, is written to a temporary file.
func readForm(c *gin.Context, limit int64) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	var err error
	if c.ContentType() == "multipart/form-data" {
		err = c.Request.ParseMultipartForm(limit + 1<<20)
	} else {
		err = c.Request.ParseForm()
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return collector.NewError(collector.CodeTooLarge, "too_large")
	}
	return collector.NewError(collector.CodeInvalid, "bad_form")
}

// maxConcurrentUploads is how many uploads the import page reads at once: each may hold
// 32 MiB, and several times that while it is checked.
const maxConcurrentUploads = 2

// uploadSlot lets an upload through when its token has no other upload being read and
// fewer than maxConcurrentUploads are being read in all. A second upload of the same
// token gets 429 (it waits for its own), so that one uploader cannot hold every slot and
// turn the others away; a full server gets 503. Both say Retry-After.
func (s *Server) uploadSlot(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	s.uploadMu.Lock()
	if s.uploading[p.TokenID] {
		s.uploadMu.Unlock()
		s.fail(c, collector.NewError(collector.CodeRateLimited, "upload_in_progress"))
		return
	}
	s.uploading[p.TokenID] = true
	s.uploadMu.Unlock()
	defer func() {
		s.uploadMu.Lock()
		delete(s.uploading, p.TokenID)
		s.uploadMu.Unlock()
	}()
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
		c.Next()
	default:
		s.fail(c, collector.NewError(collector.CodeUnavailable, "busy"))
	}
}

type loginMain struct {
	Next, CSRF, Error, Notice string
}

func (s *Server) loginPage(c *gin.Context) {
	if p, ok := s.Sessions.principal(c); ok {
		c.Redirect(http.StatusSeeOther, homeOf(p.Role))
		return
	}
	pg := s.Pages.NewPage(c, "login_title")
	m := loginMain{Next: localPath(c.Query("next")), CSRF: s.Sessions.loginCSRF(c)}
	if c.Query("signed_out") == "1" {
		m.Notice = pg.T("signed_out")
	}
	pg.Main = m
	s.Pages.Render(c, http.StatusOK, "login", pg)
}

// login exchanges a token for a session. The token itself is neither kept nor logged:
// the session holds its hash, and the audit log its id. A failed sign-in is audited
// without any part of what was typed.
func (s *Server) login(c *gin.Context) {
	if err := readForm(c, 8<<10); err != nil {
		s.fail(c, err)
		return
	}
	pg := s.Pages.NewPage(c, "login_title")
	next := localPath(c.PostForm("next"))
	if !s.Sessions.validLoginCSRF(c) {
		s.fail(c, collector.NewError(collector.CodeForbidden, "csrf"))
		return
	}
	// The address is only a key of the limiter, in memory: it is neither logged nor kept.
	if ok, wait := s.logins.Allow("addr:" + collector.AddressKey(c.ClientIP())); !ok {
		s.fail(c, collector.RateLimited("too_many_attempts", wait))
		return
	}
	bearer := strings.TrimSpace(c.PostForm("token")) // a copy and paste adds spaces and line breaks
	// fail shows the sign-in form again with the message of code and key.
	fail := func(code collector.Code, key string) {
		pg.Main = loginMain{Next: next, CSRF: s.Sessions.loginCSRF(c), Error: pg.T(key)}
		s.Pages.Render(c, collector.ErrorStatus(c, collector.NewError(code, key)), "login", pg)
	}
	if bearer == "" {
		fail(collector.CodeInvalid, "login_missing")
		return
	}
	hash := collector.HashToken(bearer)
	p, err := s.API.Auth.AuthenticateHash(c.Request.Context(), hash)
	event := collector.AuditEvent{At: s.now(), Actor: "-", Action: "session.signin", Outcome: "denied"}
	if err != nil {
		if collector.ErrorCode(err) == collector.CodeUnavailable {
			event.Outcome = "failed"
			s.audit(event)
			fail(collector.CodeUnavailable, "unavailable")
			return
		}
		s.audit(event)
		fail(collector.CodeUnauthorized, "login_failed")
		return
	}
	event.Actor, event.Role, event.Sites, event.Outcome = p.TokenID, string(p.Role), p.Sites, "ok"
	if err := s.Sessions.Open(c, hash); err != nil {
		event.Outcome = "failed"
		s.audit(event)
		fail(collector.CodeUnavailable, "unavailable")
		return
	}
	s.audit(event)
	if next == "" || next == "/" {
		next = homeOf(p.Role)
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (s *Server) logout(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	event := collector.AuditEvent{At: s.now(), Actor: p.TokenID, Role: string(p.Role), Sites: p.Sites,
		Action: "session.signout", Outcome: "ok"}
	if err := s.Sessions.Close(c); err != nil {
		// The cookie is gone from this browser, but the session could not be ended
		// in the store: say so, rather than let a copy of the cookie live on unseen.
		event.Outcome = "failed"
		s.audit(event)
		s.fail(c, &collector.Error{Code: collector.CodeUnavailable, Key: "unavailable", Err: err})
		return
	}
	s.audit(event)
	c.Redirect(http.StatusSeeOther, "/login?signed_out=1")
}

// audit records e with its own context: a refused request is audited too, whatever
// happened to the request's context.
func (s *Server) audit(e collector.AuditEvent) {
	if s.Auditor == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Auditor.Audit(ctx, e); err != nil {
		s.Logger.Error("audit failed", "action", e.Action, "err", err)
	}
}

type formListMain struct {
	Questionnaires []formListEntry
}

type formListEntry struct {
	ID, Title, Description string
	Version                int
}

func (s *Server) formList(c *gin.Context) {
	pg := s.Pages.NewPage(c, "forms_title")
	var m formListMain
	for _, id := range s.API.Catalog.IDs() {
		d, _ := s.API.Catalog.Latest(id)
		m.Questionnaires = append(m.Questionnaires, formListEntry{ID: id, Title: d.Title.In(pg.Lang),
			Description: d.Description.In(pg.Lang), Version: d.Version})
	}
	pg.Main = m
	s.Pages.Render(c, http.StatusOK, "forms", pg)
}

// definition returns the questionnaire of the route, or answers 404.
func (s *Server) definition(c *gin.Context) (*collector.Definition, bool) {
	d, ok := s.API.Catalog.Latest(c.Param("questionnaire"))
	if !ok {
		s.fail(c, collector.NewError(collector.CodeNotFound, "not_found"))
	}
	return d, ok
}

// siteOptions lists the sites principal p may submit for, with chosen selected.
func (s *Server) siteOptions(p collector.Principal, chosen, lang string) []option {
	var out []option
	for _, site := range s.API.Sites.All() {
		if p.CanSubmit(site.Code) {
			out = append(out, option{Value: site.Code, Label: site.Name.In(lang), Checked: site.Code == chosen})
		}
	}
	if len(out) == 1 {
		out[0].Checked = true
	}
	return out
}

// formPage shows an empty form with a new submission id: the id travels with the form,
// so that a double click or a resent form stores the questionnaire once.
func (s *Server) formPage(c *gin.Context) {
	d, ok := s.definition(c)
	if !ok {
		return
	}
	p, _ := collector.PrincipalOf(c)
	pg := s.Pages.NewPage(c, "forms_title")
	f := newForm(d, pg.Lang, nil, nil)
	f.SubmissionID = uuid.NewString()
	f.Sites = s.siteOptions(p, c.Query("site"), pg.Lang)
	s.renderForm(c, http.StatusOK, pg, f)
}

func (s *Server) renderForm(c *gin.Context, status int, pg *Page, f *form) {
	pg.Title = f.Title
	pg.Main = f
	pg.Scripts = []string{"/static/form.js"}
	s.Pages.Render(c, status, "form", pg)
}

// postForm takes a filled-in form. Problems are shown beside their items, with every
// answer kept; a stored questionnaire redirects to the confirmation (post, redirect,
// get: reloading the confirmation sends nothing again).
func (s *Server) postForm(c *gin.Context) {
	d, ok := s.definition(c)
	if !ok {
		return
	}
	p, _ := collector.PrincipalOf(c)
	pg := s.Pages.NewPage(c, "forms_title")
	values := c.Request.PostForm
	// The posted version, when this tamtam knows it: a form opened before an upgrade is
	// checked against the definition it showed.
	if v := values.Get("version"); v != "" {
		for _, known := range s.API.Catalog.Versions(d.ID) {
			if v == strconv.Itoa(known) {
				d, _ = s.API.Catalog.Get(d.ID, known)
			}
		}
	}
	env := envelope(d, values)
	// show shows the form again, answers kept, with the problems of err: beside their
	// items, or as a notice (with a link) above the form.
	show := func(err error, ferrs []collector.FieldError, notice, link string) {
		f := newForm(d, pg.Lang, values, ferrs)
		f.SubmissionID = env.SubmissionID
		f.Sites = s.siteOptions(p, env.Site, pg.Lang)
		f.Notice, f.NoticeLink = notice, link
		s.renderForm(c, collector.ErrorStatus(c, err), pg, f)
	}
	rec, err := s.API.Prepare(p, env)
	if err != nil {
		var e *collector.Error
		switch {
		case errors.As(err, &e) && len(e.Fields) > 0:
			show(err, e.Fields, "", "")
		case collector.ErrorCode(err) == collector.CodeForbidden:
			s.fail(c, collector.NewError(collector.CodeForbidden, "forbidden_site"))
		default:
			s.fail(c, fmt.Errorf("web: form %s: %w", d.ID, err))
		}
		return
	}
	outs, err := s.API.Ingester.Submit(c.Request.Context(), []collector.Record{rec})
	if err != nil {
		if collector.ErrorCode(err) == collector.CodeUnavailable {
			show(err, nil, pg.T("unavailable"), "")
			return
		}
		s.fail(c, fmt.Errorf("web: form %s: %w", d.ID, err))
		return
	}
	s.API.Metrics.Count(outs[0])
	q := url.Values{"site": {env.Site}, "lang": {pg.Lang}}
	switch outs[0] {
	case collector.Stored:
		q.Set("status", "stored")
	case collector.Replayed:
		q.Set("status", "replayed")
	default:
		show(collector.NewError(collector.CodeConflict, "conflict"), nil, pg.T("conflict"),
			"/forms/"+d.ID+"?"+url.Values{"site": {env.Site}}.Encode())
		return
	}
	c.Redirect(http.StatusSeeOther, "/forms/"+d.ID+"/done?"+q.Encode())
}

type doneMain struct {
	Again    bool
	NextHref string
}

// donePage confirms a stored questionnaire and offers the next person's form, for the
// same site and language.
func (s *Server) donePage(c *gin.Context) {
	d, ok := s.definition(c)
	if !ok {
		return
	}
	pg := s.Pages.NewPage(c, "saved_title")
	q := url.Values{}
	if site := c.Query("site"); site != "" {
		if _, known := s.API.Sites.Get(site); known {
			q.Set("site", site)
		}
	}
	q.Set("lang", pg.Lang)
	pg.Main = doneMain{Again: c.Query("status") == "replayed", NextHref: "/forms/" + d.ID + "?" + q.Encode()}
	s.Pages.Render(c, http.StatusOK, "done", pg)
}

// template sends the Excel data-entry template of the questionnaire in the page's
// language (the same file as tamtam template).
func (s *Server) template(c *gin.Context) {
	d, ok := s.definition(c)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := paper.WriteTemplate(&buf, d, Lang(c)); err != nil {
		s.fail(c, fmt.Errorf("web: template %s: %w", d.ID, err))
		return
	}
	c.Header("Content-Disposition", `attachment; filename="tamtam-`+d.ID+`-v`+strconv.Itoa(d.Version)+`-`+Lang(c)+`.xlsx"`)
	c.Data(http.StatusOK, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", buf.Bytes())
}
