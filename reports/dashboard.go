package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
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
	"github.com/tamtam-ngo/tamtam/collector/web"
	"github.com/tamtam-ngo/tamtam/reports/assets"
)

//go:embed templates/*.html
var pageTemplates embed.FS

// echartsFile is the name the dashboard loads the ECharts library under: versioned, so
// that a browser may keep it.
const echartsFile = "echarts-5.4.3.min.js"

// UsePages prepares the dashboard for signed-in coordinators and funders, rendered
// through pages with sessions; [Server.Mount] then registers GET /reports (the
// indicators of a year and sites as charts and tables, and the questionnaires received
// by site and month) and, under /reports/, the workbook and HTML report downloads (the
// same files, releases and audit as the API's) and the scripts of the page. Every number
// comes from [Build], so the dashboard shows what a report would publish and nothing
// more.
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
	// The token's rate limit applies as on the API: a view builds a whole year's release.
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
	Year  int
	Years []int
	Sites []siteChoice
	// ChooseSites offers the choice of sites: to coordinators. A funder's figures cover
	// all of its sites (see Server.scope).
	ChooseSites bool
	Lang        string
	W           dashboardText
	Empty       string // no data for the selection
	Report      *htmlPage
	Arrivals    *htmlTable
	Download    struct{ XLSX, HTML string }
}

type siteChoice struct {
	Code, Label string
	Checked     bool
}

// dashboardText holds the words of the dashboard in one language.
type dashboardText struct {
	Title, Year, Sites, Show, Download, XLSX, HTML, Arrivals, ArrivalsNote, NoData, Charts string
}

var dashboardWords = map[string]dashboardText{
	"fr": {Title: "Tableau de bord", Year: "Année", Sites: "Prisons", Show: "Afficher", Download: "Télécharger",
		XLSX: "Classeur Excel (figures.xlsx)", HTML: "Rapport HTML hors ligne",
		Arrivals:     "Questionnaires reçus par prison et par mois",
		ArrivalsNote: "Entrée et suivi confondus, par mois du questionnaire. Mêmes règles de protection que les chiffres publiés.",
		NoData:       "Aucun questionnaire de %d dans les prisons choisies.", Charts: "Indicateurs"},
	"nl": {Title: "Dashboard", Year: "Jaar", Sites: "Gevangenissen", Show: "Tonen", Download: "Downloaden",
		XLSX: "Excel-werkmap (figures.xlsx)", HTML: "Offline HTML-rapport",
		Arrivals:     "Ontvangen vragenlijsten per gevangenis en per maand",
		ArrivalsNote: "Binnenkomst en opvolging samen, per maand van de vragenlijst. Zelfde beschermingsregels als de gepubliceerde cijfers.",
		NoData:       "Geen vragenlijst van %d in de gekozen gevangenissen.", Charts: "Indicatoren"},
	"en": {Title: "Dashboard", Year: "Year", Sites: "Prisons", Show: "Show", Download: "Download",
		XLSX: "Excel workbook (figures.xlsx)", HTML: "Offline HTML report",
		Arrivals:     "Questionnaires received by prison and month",
		ArrivalsNote: "Entry and follow-up together, by month of the questionnaire. The same protection rules as the published figures.",
		NoData:       "No questionnaire of %d in the chosen prisons.", Charts: "Indicators"},
}

// firstYear is the earliest year the year list offers: entry months start in 2015.
const firstYear = 2015

// dashboard shows the protected figures of a year and sites: the arrivals table, the key
// figures, a chart per family and every indicator's tables, with the downloads. A view is
// audited; it is not a release (nothing leaves as a file), the downloads are.
func (s *Server) dashboard(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	pg := s.pages.NewPage(c, "nav_reports")
	pg.Wide = true
	lang := pg.Lang
	m := &dashboardMain{Lang: lang, W: dashboardWords[lang], Year: s.Now().Year()}
	pg.Title = m.W.Title
	if y, err := strconv.Atoi(c.Query("year")); err == nil && y >= firstYear && y <= m.Year {
		m.Year = y
	} else {
		m.Year = s.latestYear(c.Request.Context(), m.Year)
	}
	for y := s.Now().Year(); y >= firstYear; y-- {
		m.Years = append(m.Years, y)
	}
	sites, err := s.scope(p, c.QueryArray("site"))
	if err != nil {
		s.pages.Error(c, collector.ErrorCode(err).Status(), "forbidden_site")
		return
	}
	m.ChooseSites = p.Role == collector.RoleCoordinator
	for _, site := range s.Sites.All() {
		if p.CanRead(site.Code) {
			m.Sites = append(m.Sites, siteChoice{Code: site.Code, Label: site.Name.In(lang),
				Checked: len(c.QueryArray("site")) == 0 || slices.Contains(sites, site.Code)})
		}
	}
	q := url.Values{"lang": {lang}}
	if asked := c.QueryArray("site"); len(asked) > 0 {
		q["site"] = sites
	}
	m.Download.XLSX = fmt.Sprintf("/reports/%d.xlsx?%s", m.Year, q.Encode())
	m.Download.HTML = fmt.Sprintf("/reports/%d.html?%s", m.Year, q.Encode())
	event := collector.AuditEvent{At: s.Now(), Actor: p.TokenID, Role: string(p.Role), Sites: sites,
		Action: "dashboard.view", Detail: strconv.Itoa(m.Year) + "?lang=" + lang, Outcome: "ok"}

	f, err := Build(c.Request.Context(), s.Source, s.Catalog, Options{Year: m.Year, Sites: sites, Policy: s.Policy,
		SiteNames: s.siteNames(), Arrivals: true})
	switch {
	case errors.Is(err, ErrNoData):
		m.Empty = fmt.Sprintf(m.W.NoData, m.Year)
	case err != nil:
		event.Outcome = "failed"
		s.audit(event)
		s.Logger.Error("dashboard failed", "err", err)
		s.pages.Error(c, http.StatusInternalServerError, "internal")
		return
	default:
		if m.Report, err = htmlBuildPage(f, lang); err != nil {
			s.Logger.Error("dashboard failed", "err", err)
			s.pages.Error(c, http.StatusInternalServerError, "internal")
			return
		}
		if f.Arrivals != nil {
			t := arrivalsHTML(f, *f.Arrivals, lang, m.W)
			m.Arrivals = &t
		}
		// A view shows figures to a person: it is a release, recorded in the ledger
		// with the hash of every figure shown (as the CSV would hold them).
		if err := s.recordView(c.Request.Context(), p, f, sites, lang); err != nil {
			event.Outcome = "failed"
			s.audit(event)
			s.Logger.Error("dashboard failed", "err", err)
			s.pages.Error(c, http.StatusServiceUnavailable, "unavailable")
			return
		}
		id := s.scripts.Put(p.TokenID, "charts.js", []byte(m.Report.ChartsJS))
		pg.Scripts = []string{"/reports/" + echartsFile, "/reports/charts-" + id + ".js"}
	}
	s.audit(event)
	pg.Main = m
	s.pages.Render(c, http.StatusOK, "dashboard", pg)
}

// recordView records a dashboard view in the release ledger.
func (s *Server) recordView(ctx context.Context, p collector.Principal, f *Figures, sites []string, lang string) error {
	var csv bytes.Buffer
	if err := WriteCSV(&csv, f); err != nil {
		return err
	}
	sum := sha256.Sum256(csv.Bytes())
	settings := (&Manifest{Tool: "tamtam dashboard", Year: f.Year, Sites: sites, PooledSites: f.Pooled, Lang: lang,
		DataCutOff: f.CutOff, Disclosure: f.Config, Questionnaires: s.Questionnaires}).Settings()
	return s.Ledger.RecordRelease(ctx, LedgerEntry{At: s.Now(), Actor: p.TokenID, Role: string(p.Role), Year: f.Year,
		Sites: sites, Lang: lang, K: f.Config.K, CutOff: f.CutOff, Settings: settings,
		Files: []FileHash{{Name: fmt.Sprintf("dashboard-%d.csv", f.Year), SHA256: hex.EncodeToString(sum[:])}}})
}

// latestYear returns the most recent year, from this one back, with any questionnaire:
// in January the coordinator still works on last year's figures.
func (s *Server) latestYear(ctx context.Context, this int) int {
	for y := this; y >= firstYear; y-- {
		if t, err := s.Source.DataCutOff(ctx, y); err == nil && !t.IsZero() {
			return y
		}
	}
	return this
}

func (s *Server) siteNames() map[string]Text {
	names := map[string]Text{}
	for _, site := range s.Sites.All() {
		names[site.Code] = site.Name
	}
	return names
}

// arrivalsHTML lays out the arrivals table as the report's cross tables, with months
// named in the page's language.
func arrivalsHTML(f *Figures, ct CrossTable, lang string, w dashboardText) htmlTable {
	t := htmlCrossTable(f, ct, lang)
	t.Indicator, t.Caption = "questionnaires", w.Arrivals
	months := htmlWords[lang].months
	for i, code := range ct.Cols {
		if m, err := strconv.Atoi(code[len(code)-2:]); err == nil && m >= 1 && m <= 12 {
			t.Head[i+1] = months[m-1]
		}
	}
	return t
}
