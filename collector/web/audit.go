package web

import (
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
)

// auditLimit is the most events the page shows; tamtam audit reads more.
const auditLimit = 500

// auditActions are the actions offered in the filter; any other is typed in the URL.
var auditActions = []string{"session.signin", "session.signout", "token.create", "token.revoke",
	"report.download", "report.release", "release.make", "dashboard.view", "import", "import.check", "backup", "restore", "purge"}

type auditMain struct {
	Since, Action string
	Actions       []string
	Error         string
	Events        []auditRow
}

type auditRow struct {
	At, Actor, Role, Sites, Action, Detail, Outcome string
}

// auditPage shows the coordinator the audit log, newest first: who signed in, changed a
// token, downloaded a report, imported a file. It never holds answers or tokens.
func (s *Server) auditPage(c *gin.Context) {
	pg := s.Pages.NewPage(c, "audit_title")
	pg.Wide = true
	m := auditMain{Since: c.Query("since"), Action: c.Query("action"), Actions: auditActions}
	var since time.Time
	if m.Since != "" {
		t, err := time.Parse(time.DateOnly, m.Since)
		if err != nil {
			m.Error = pg.T("bad_date")
			pg.Main = m
			s.Pages.Render(c, collector.ErrorStatus(c, collector.NewError(collector.CodeInvalid, "bad_date")), "audit", pg)
			return
		}
		since = t
	}
	events, err := s.Audit.AuditEvents(c.Request.Context(), since, m.Action, auditLimit)
	if err != nil {
		s.Logger.Error("audit page failed", "err", err)
		s.fail(c, &collector.Error{Code: collector.CodeUnavailable, Key: "unavailable", Err: err})
		return
	}
	for _, e := range events {
		sites := "–"
		if len(e.Sites) > 0 {
			sites = strings.Join(e.Sites, ", ")
		}
		m.Events = append(m.Events, auditRow{At: e.At.UTC().Format("2006-01-02 15:04:05"), Actor: printable(e.Actor),
			Role: printable(e.Role), Sites: printable(sites), Action: printable(e.Action), Detail: printable(e.Detail),
			Outcome: printable(e.Outcome)})
	}
	pg.Main = m
	s.Pages.Render(c, http.StatusOK, "audit", pg)
}

// printable replaces control characters: details come from many places (a requested
// file name…), and the page shows them as they are, escaped, but on one line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
