package reports

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/web"
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
func (s *Server) UsePages(sessions *web.Sessions, pages *web.Pages) error {
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
	s.scripts = web.NewCache(30*time.Minute, 64<<20, 8, s.Now)
	// The token's rate limit applies as on the API.
	g := r.Group("", web.Headers(), s.sessions.Require(s.pages, collector.RoleCoordinator, collector.RoleFunder), s.Limiter.Middleware())
	g.GET("/reports", s.dashboard)
	g.GET("/reports/:file", s.pageFile)
}

// pageFile serves what the dashboard links to: downloads, the chart script of a view,
// and the ECharts library.
func (s *Server) pageFile(c *gin.Context) {
	name := c.Param("file")
	switch {
	case name == echartsFile:
		c.Header("Cache-Control", "private, max-age=86400")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", assets.EChartsJS)
	case strings.HasPrefix(name, "charts-") && strings.HasSuffix(name, ".js"):
		p, _ := collector.PrincipalOf(c)
		body, _, ok := s.scripts.Get(strings.TrimSuffix(strings.TrimPrefix(name, "charts-"), ".js"), p.TokenID)
		if !ok {
			c.AbortWithStatus(http.StatusNotFound)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", body)
	default:
		s.download(c)
	}
}

// dashboardMain is the content of the dashboard.
type dashboardMain struct {
	Year     int
	Years    []int
	Releases []releaseChoice
	Groups   []groupChoice
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

// dashboardText holds the words of the dashboard in one language.
type dashboardText struct {
	Title, Year, Release, Group, Show, Download, XLSX, HTML, CSV, Arrivals, ArrivalsNote, NoRelease, Charts, CutOff string
}

var dashboardWords = map[string]dashboardText{
	"fr": {Title: "Tableau de bord", Year: "Année", Release: "Publication", Group: "Chiffres de", Show: "Afficher", Download: "Télécharger",
		XLSX: "Classeur Excel (figures.xlsx)", HTML: "Rapport HTML hors ligne", CSV: "Tableau CSV (figures.csv)",
		Arrivals:     "Questionnaires reçus par prison et par mois",
		ArrivalsNote: "En direct, entrée et suivi confondus, par mois du questionnaire : ce ne sont pas des chiffres publiés. Les nombres de 1 à k-1 sont masqués.",
		NoRelease:    "Aucune publication pour %d. Le coordinateur en fait une avec « tamtam release --year %d ».", Charts: "Indicateurs",
		CutOff: "données au"},
	"nl": {Title: "Dashboard", Year: "Jaar", Release: "Publicatie", Group: "Cijfers van", Show: "Tonen", Download: "Downloaden",
		XLSX: "Excel-werkmap (figures.xlsx)", HTML: "Offline HTML-rapport", CSV: "CSV-tabel (figures.csv)",
		Arrivals:     "Ontvangen vragenlijsten per gevangenis en per maand",
		ArrivalsNote: "Live, binnenkomst en opvolging samen, per maand van de vragenlijst: geen gepubliceerde cijfers. Aantallen van 1 tot k-1 zijn verborgen.",
		NoRelease:    "Geen publicatie voor %d. De coördinator maakt er een met ‘tamtam release --year %d’.", Charts: "Indicatoren",
		CutOff: "gegevens tot"},
	"en": {Title: "Dashboard", Year: "Year", Release: "Release", Group: "Figures of", Show: "Show", Download: "Download",
		XLSX: "Excel workbook (figures.xlsx)", HTML: "Offline HTML report", CSV: "CSV table (figures.csv)",
		Arrivals:     "Questionnaires received by prison and month",
		ArrivalsNote: "Live, entry and follow-up together, by month of the questionnaire: not published figures. Counts from 1 to k-1 are hidden.",
		NoRelease:    "No release for %d. The coordinator makes one with “tamtam release --year %d”.", Charts: "Indicators",
		CutOff: "data to"},
}

// firstYear is the earliest year the year list offers: entry months start in 2015.
const firstYear = 2015

// dashboard shows a release of a year: the arrivals table, the key figures, a chart per
// family and every indicator's tables, with the downloads. A view is audited and
// recorded in the ledger with the release it showed.
func (s *Server) dashboard(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	ctx := c.Request.Context()
	pg := s.pages.NewPage(c, "nav_reports")
	pg.Wide = true
	lang := pg.Lang
	m := &dashboardMain{Lang: lang, W: dashboardWords[lang], Year: s.Now().Year(), ChooseGroup: p.Role == collector.RoleCoordinator}
	pg.Title = m.W.Title
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
	// and answers the error page.
	refuse := func(outcome string, status int, key string, err error) {
		event.Outcome = outcome
		s.audit(event)
		if outcome == "failed" {
			s.Logger.Error("dashboard failed", "err", err)
		}
		s.pages.Error(c, status, key)
	}
	if err := s.checkSites(p, c.QueryArray("site")); err != nil {
		refuse("denied", collector.ErrorCode(err).Status(), "forbidden_site", err)
		return
	}
	valid, err := s.Publisher.Valid(ctx, m.Year)
	if err != nil {
		refuse("failed", http.StatusServiceUnavailable, "unavailable", err)
		return
	}
	if len(valid) == 0 {
		m.Empty = fmt.Sprintf(m.W.NoRelease, m.Year, m.Year)
		s.audit(event)
		pg.Main = m
		s.pages.Render(c, http.StatusOK, "dashboard", pg)
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
		refuse("failed", collector.ErrorCode(err).Status(), "unavailable", err)
		return
	}
	g, err := s.groupFor(p, rel, c.QueryArray("site"), c.Query("group"))
	if err != nil {
		event.Outcome = "denied"
		s.audit(event)
		if collector.ErrorCode(err) == collector.CodeNoRelease {
			m.Empty = err.Error()
			pg.Main = m
			s.pages.Render(c, http.StatusOK, "dashboard", pg)
			return
		}
		s.pages.Error(c, collector.ErrorCode(err).Status(), "forbidden_site")
		return
	}
	f, err := rel.View(s.Catalog, g.Code, s.siteNames())
	if err != nil {
		refuse("failed", http.StatusInternalServerError, "internal", err)
		return
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
	m.Download.XLSX = fmt.Sprintf("/reports/%d.xlsx?%s", m.Year, q.Encode())
	m.Download.HTML = fmt.Sprintf("/reports/%d.html?%s", m.Year, q.Encode())
	m.Download.CSV = fmt.Sprintf("/reports/%d.csv?%s", m.Year, q.Encode())
	if m.Report, err = htmlBuildPage(f, lang); err != nil {
		refuse("failed", http.StatusInternalServerError, "internal", err)
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
			refuse("failed", http.StatusServiceUnavailable, "unavailable", err)
			return
		}
	}
	event.Detail += " release " + rel.ID + " " + g.Code
	// Figures are shown only once the view is in the audit log (see [Server.auditServed]).
	if err := s.auditServed(ctx, event); err != nil {
		c.Header("Retry-After", "5")
		s.pages.Error(c, collector.ErrorCode(err).Status(), "unavailable")
		return
	}
	sid := s.scripts.Put(p.TokenID, "charts.js", []byte(m.Report.ChartsJS))
	pg.Scripts = []string{"/reports/" + echartsFile, "/reports/charts-" + sid + ".js"}
	pg.Main = m
	s.pages.Render(c, http.StatusOK, "dashboard", pg)
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
