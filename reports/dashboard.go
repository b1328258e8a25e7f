package reports

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
	"github.com/tamtam-ngo/tamtam/reports/assets"
)

//go:embed templates/*.html
var pageTemplates embed.FS

// echartsFile is the name the dashboard loads the ECharts library under: versioned, so
// that a browser may keep it.
const echartsFile = "echarts-5.4.3.min.js"

// UsePages prepares the dashboard for signed-in coordinators and funders, rendered
// through pages with sessions; [Server.Mount] then registers GET /reports (a release of
// a year as charts and tables, and the questionnaires received by site and month) and,
// under /reports/, the downloads (the same files, ledger and audit as the API's) and the
// scripts of the page. Every figure is a cell of a stored release: a coordinator chooses
// among the releases of a year and their groups, never among ad-hoc sets of sites.
func (s *Server) UsePages(sessions Sessions, pages Pages) error {
	if err := pages.Add("dashboard", pageTemplates, "templates/dashboard.html", "templates/table.html"); err != nil {
		return err
	}
	s.sessions, s.pages = sessions, pages
	return nil
}

// mountPages registers the dashboard routes (see UsePages).
func (s *Server) mountPages(r gin.IRouter) {
	// The chart script of each view, for the browser to fetch right after the page (which
	// may hold no inline script): it holds figures, so only its viewer may.
	s.scripts = collector.NewPrivateCache(30*time.Minute, 64<<20, 8, s.Now)
	// The token's rate limit applies as on the API.
	// The downloads answer their errors in JSON, as the API's downloads do — a browser
	// asked for a file, not a page — from the rate limit on; refusals of the session
	// before that are the pages' (sign in first, not for your role).
	g := r.Group("", s.pages.Middleware(), s.sessions.Require(collector.RoleCoordinator, collector.RoleFunder))
	g.GET("/reports", s.Limiter.Middleware(), s.dashboard)
	g.GET("/reports/:file", downloadsAnswerJSON, s.Limiter.Middleware(), s.pageFile)
}

// pageFile serves what the dashboard links to: downloads, the chart script of a view,
// and the ECharts library.
func (s *Server) pageFile(c *gin.Context) {
	name := c.Param("file")
	switch {
	case name == echartsFile:
		c.Header("Cache-Control", "private, max-age=86400")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", assets.EChartsJS)
	case isScript(name):
		p, _ := collector.PrincipalOf(c)
		body, _, ok := s.scripts.Get(strings.TrimSuffix(strings.TrimPrefix(name, "charts-"), ".js"), p.TokenID)
		if !ok {
			collector.AbortWithError(c, s.Logger, collector.NewError(collector.CodeNotFound, "not_found"))
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", body)
	default:
		s.download(c)
	}
}

// isScript reports whether a file of the dashboard is a script (the ECharts library or
// the chart script of a view) rather than a download.
func isScript(name string) bool {
	return name == echartsFile || strings.HasPrefix(name, "charts-") && strings.HasSuffix(name, ".js")
}

// downloadsAnswerJSON makes the errors of the dashboard's downloads JSON answers (see
// mountPages).
func downloadsAnswerJSON(c *gin.Context) {
	if !isScript(c.Param("file")) {
		collector.SetErrorPage(c, nil)
	}
}

// dashboardMain is the content of the dashboard.
type dashboardMain struct {
	Year     int
	Years    []int
	Releases []releaseChoice
	Groups   []groupChoice
	// Questionnaires offers the figures of one questionnaire, or of all ("").
	Questionnaires []groupChoice
	// ChooseGroup offers the choice of groups: to coordinators. A funder sees its own.
	ChooseGroup bool
	GroupName   string
	Lang        string
	W           dashboardText
	Empty       string // no release of the year
	Report      *htmlPage
	Arrivals    *htmlTable
	Download    struct{ XLSX, HTML, CSV string }
}

type releaseChoice struct {
	ID, Label string
	Selected  bool
}

type groupChoice struct {
	Code, Label string
	Selected    bool
}

// dashboardText holds the words of the dashboard in one language, from the catalogue
// (texts/dashboard.json).
type dashboardText struct {
	Title, Year, Release, Group, Show, Download, XLSX, HTML, CSV, Arrivals, ArrivalsNote, CutOff string
	Questionnaire, AllQuestionnaires                                                             string
}

func dashboardWords(lang string) dashboardText {
	l := words.Lang(lang)
	return dashboardText{Title: l.T("nav_reports"), Year: l.T("report.year"), Release: l.T("report.release"),
		Group: l.T("report.figures_of"), Show: l.T("show"), Download: l.T("dashboard.download"), XLSX: l.T("dashboard.xlsx"),
		HTML: l.T("dashboard.html"), CSV: l.T("dashboard.csv"), Arrivals: l.T("dashboard.arrivals"),
		ArrivalsNote: l.T("dashboard.arrivals_note"), CutOff: l.T("dashboard.cut_off"),
		Questionnaire: l.T("dashboard.questionnaire"), AllQuestionnaires: l.T("dashboard.all_questionnaires")}
}

// firstYear is the earliest year the year list offers: entry months start in 2015.
const firstYear = 2015

// dashboard shows a release of a year: the arrivals table, the key figures, a chart per
// family and every indicator's tables, with the downloads. A view is audited and
// recorded in the ledger with the release it showed.
func (s *Server) dashboard(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	ctx := c.Request.Context()
	lang := s.pages.Lang(c)
	m := &dashboardMain{Lang: lang, W: dashboardWords(lang), Year: s.Now().Year(), ChooseGroup: p.Role == collector.RoleCoordinator}
	pg := collector.PageContent{Title: m.W.Title, Main: m, Wide: true}
	if y, err := strconv.Atoi(c.Query("year")); err == nil && y >= firstYear && y <= m.Year {
		m.Year = y
	} else {
		m.Year = s.latestYear(ctx, m.Year)
	}
	for y := s.Now().Year(); y >= firstYear; y-- {
		m.Years = append(m.Years, y)
	}
	event := collector.AuditEvent{At: s.Now(), Actor: p.TokenID, Role: string(p.Role), Sites: s.readable(p),
		Action: "dashboard.view", Detail: strconv.Itoa(m.Year) + "?lang=" + lang, Outcome: "ok"}
	// refuse audits a view that shows no figures ("denied" or "failed"), logs a failure,
	// and answers the error page of code with the page message key.
	refuse := func(outcome string, code collector.Code, key string, err error) {
		event.Outcome = outcome
		s.audit(event)
		if outcome == "failed" {
			s.Logger.Error("dashboard failed", "err", err)
		}
		collector.AbortWithError(c, nil, &collector.Error{Code: code, Key: key, Err: err})
	}
	if err := s.checkSites(p, c.QueryArray("site")); err != nil {
		refuse("denied", collector.ErrorCode(err), "forbidden_site", err)
		return
	}
	valid, err := s.Publisher.Valid(ctx, m.Year)
	if err != nil {
		refuse("failed", collector.CodeUnavailable, "unavailable", err)
		return
	}
	if len(valid) == 0 {
		m.Empty = words.Lang(lang).T("dashboard.no_release", m.Year, m.Year)
		s.audit(event)
		s.pages.Show(c, http.StatusOK, "dashboard", pg)
		return
	}
	id := valid[len(valid)-1].ID
	if asked := c.Query("release"); asked != "" && slices.ContainsFunc(valid, func(r ReleaseInfo) bool { return r.ID == asked }) {
		id = asked
	}
	for i := len(valid) - 1; i >= 0; i-- {
		r := valid[i]
		m.Releases = append(m.Releases, releaseChoice{ID: r.ID, Selected: r.ID == id,
			Label: fmt.Sprintf("%s (%s %s)", r.ID, m.W.CutOff, r.CutOff.Format(time.DateOnly))}) // cut-offs are days
	}
	rel, err := s.release(ctx, m.Year, id)
	if err != nil {
		refuse("failed", collector.ErrorCode(err), "unavailable", err)
		return
	}
	g, err := s.groupFor(p, rel, c.QueryArray("site"), c.Query("group"))
	if err != nil {
		event.Outcome = "denied"
		s.audit(event)
		if e := (*collector.Error)(nil); errors.As(err, &e) && e.Code == collector.CodeNoRelease {
			m.Empty = e.Text(words.Lang(lang))
			s.pages.Show(c, http.StatusOK, "dashboard", pg)
			return
		}
		collector.AbortWithError(c, nil, &collector.Error{Code: collector.ErrorCode(err), Key: "forbidden_site", Err: err})
		return
	}
	whole, _, err := s.Publisher.View(ctx, rel, g.Code, s.siteNames())
	if err != nil {
		refuse("failed", collector.CodeInternal, "internal", err)
		return
	}
	f := whole
	only := c.Query("questionnaire")
	if !slices.Contains(whole.QuestionnaireIDs(), only) {
		only = ""
	}
	m.Questionnaires = []groupChoice{{Code: "", Label: m.W.AllQuestionnaires, Selected: only == ""}}
	for _, id := range whole.QuestionnaireIDs() {
		m.Questionnaires = append(m.Questionnaires, groupChoice{Code: id, Label: s.Catalog.Questionnaires[id].In(lang), Selected: id == only})
	}
	if only != "" {
		f = whole.Only(only)
	}
	m.GroupName = GroupName(f, lang)
	for _, gr := range rel.Groups() {
		gf := &Figures{Group: gr, Catalog: s.Catalog, SiteNames: f.SiteNames}
		m.Groups = append(m.Groups, groupChoice{Code: gr.Code, Label: GroupName(gf, lang), Selected: gr.Code == g.Code})
	}
	q := url.Values{"lang": {lang}, "release": {rel.ID}}
	if p.Role == collector.RoleCoordinator {
		q.Set("group", g.Code)
	}
	if only != "" {
		q.Set("questionnaire", only)
	}
	m.Download.XLSX = fmt.Sprintf("/reports/%d.xlsx?%s", m.Year, q.Encode())
	m.Download.HTML = fmt.Sprintf("/reports/%d.html?%s", m.Year, q.Encode())
	m.Download.CSV = fmt.Sprintf("/reports/%d.csv?%s", m.Year, q.Encode())
	if m.Report, err = htmlBuildPage(f, lang); err != nil {
		refuse("failed", collector.CodeInternal, "internal", err)
		return
	}
	if p.Role == collector.RoleCoordinator {
		if arr, err := Arrivals(ctx, s.Source, rel, s.Now()); err != nil {
			s.Logger.Error("dashboard arrivals failed", "err", err)
		} else {
			f.Arrivals = arr
			t := arrivalsHTML(f, *arr, lang, m.W)
			m.Arrivals = &t
		}
	}
	var csv bytes.Buffer
	if err := WriteCSV(&csv, f); err == nil {
		err = s.recordDelivery(ctx, p, rel, g, lang, fmt.Sprintf("dashboard-%d.csv", m.Year), csv.Bytes())
		if err != nil {
			refuse("failed", collector.CodeUnavailable, "unavailable", err)
			return
		}
	}
	event.Detail += " release " + rel.ID + " " + g.Code
	// Figures are shown only once the view is in the audit log (see [Server.auditServed]).
	if err := s.auditServed(ctx, event); err != nil {
		collector.AbortWithError(c, nil, &collector.Error{Code: collector.ErrorCode(err), Key: "unavailable", Err: err})
		return
	}
	sid := s.scripts.Put(p.TokenID, "charts.js", []byte(m.Report.ChartsJS))
	pg.Scripts = []string{"/reports/" + echartsFile, "/reports/charts-" + sid + ".js"}
	s.pages.Show(c, http.StatusOK, "dashboard", pg)
}

// latestYear returns the most recent year, from this one back, with a release: in
// January the coordinator still works on last year's figures.
func (s *Server) latestYear(ctx context.Context, this int) int {
	all, err := s.Publisher.Store.ListReleases(ctx, 0)
	if err != nil {
		return this
	}
	best := 0
	for _, r := range all {
		if r.Year <= this && r.Year > best {
			best = r.Year
		}
	}
	if best == 0 {
		return this
	}
	return best
}

// arrivalsHTML lays out the arrivals table as the report's cross tables, with months
// named in the page's language.
func arrivalsHTML(f *Figures, ct CrossTable, lang string, w dashboardText) htmlTable {
	t := htmlCrossTable(f, ct, lang)
	t.Indicator, t.Caption = "questionnaires", w.Arrivals
	for i, code := range ct.Cols {
		if m, err := strconv.Atoi(code[len(code)-2:]); err == nil && m >= 1 && m <= 12 {
			t.Head[i+1] = reportMonth(lang, m)
		}
	}
	return t
}
