package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/paper"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// maxUpload is the largest file the import page takes: some 100,000 rows of the
// template. A bigger file goes through tamtam import.
const maxUpload = 32 << 20

// maxUploadRows is the most rows the import page takes from one file: the 100,000 of a
// full template. The records wait in memory until they are stored, and rows of a few
// bytes each (refusals) would otherwise make millions from 32 MiB.
const maxUploadRows = 100_000

// A check keeps the first maxKeptProblems problems of a file, for the annotated workbook,
// and the page lists the first maxListedProblems: a file with a problem in every cell
// must not make a page of megabytes (each problem beyond is only counted).
const (
	maxKeptProblems   = 10_000
	maxListedProblems = 200
)

// importMain is the import page: the upload form, and the outcome of the last upload.
type importMain struct {
	Sites          []option
	Questionnaires []option
	Templates      []option // template links: Value = href
	Error          string
	Result         *importResult
}

type importResult struct {
	DryRun       bool
	FileName     string
	Rows         int
	Problems     []importProblem // the first maxListedProblems
	ProblemCount int
	MoreProblems string // "… and 12,345 more problems", when some are not listed
	RowsProblems int
	Duplicates   []paper.Duplicate
	WouldStore   int
	Existing     int
	Stored       int
	Replayed     int
	Message      string
	OK           bool
	// Annotated is the address of the file written back with the faulty cells
	// highlighted and commented, kept in memory for its uploader (see Server.annotated).
	Annotated string
	// AnnotatedNote says why there is none: the file is too large to annotate.
	AnnotatedNote string
}

type importProblem struct {
	Row         int
	Item, Label string
	Message     string
}

func (s *Server) importForm(c *gin.Context, pg *Page, site, questionnaire string) importMain {
	p, _ := collector.PrincipalOf(c)
	m := importMain{Sites: s.siteOptions(p, site, pg.Lang)}
	for _, id := range s.API.Catalog.IDs() {
		d, _ := s.API.Catalog.Latest(id)
		m.Questionnaires = append(m.Questionnaires, option{Value: id, Label: d.Title.In(pg.Lang), Checked: id == questionnaire})
		m.Templates = append(m.Templates, option{Value: "/forms/" + id + "/template.xlsx?lang=" + pg.Lang, Label: d.Title.In(pg.Lang)})
	}
	return m
}

func (s *Server) importPage(c *gin.Context) {
	pg := s.Pages.NewPage(c, "import_title")
	pg.Main = s.importForm(c, pg, c.Query("site"), "")
	s.Pages.Render(c, http.StatusOK, "import", pg)
}

// postImport checks an uploaded file (action=check: a dry run) or imports it
// (action=import): every row is checked as an API submission would be, and the file is
// stored whole or not at all. Problems are listed by row and item, and the file comes
// back annotated.
func (s *Server) postImport(c *gin.Context) {
	pg := s.Pages.NewPage(c, "import_title")
	site, questionnaire := c.PostForm("site"), c.PostForm("questionnaire")
	m := s.importForm(c, pg, site, questionnaire)
	render := func(status int) {
		pg.Main = m
		s.Pages.Render(c, status, "import", pg)
	}
	p, _ := collector.PrincipalOf(c)
	dryRun := c.PostForm("action") != "import"
	if _, known := s.API.Sites.Get(site); !known || !p.CanSubmit(site) {
		event := collector.AuditEvent{At: s.now(), Actor: p.TokenID, Role: string(p.Role),
			Action: "import", Outcome: "denied"}
		if known {
			event.Sites = []string{site} // the audit log holds site codes, not what was typed
		}
		if dryRun {
			event.Action = "import.check"
		}
		s.audit(event)
		s.fail(c, collector.NewError(collector.CodeForbidden, "forbidden_site"))
		return
	}
	// refuse shows the import page again with the message of err, whose code gives the
	// status.
	refuse := func(err *collector.Error, msg string) {
		m.Error = msg
		render(collector.ErrorStatus(c, err))
	}
	fh, err := c.FormFile("file")
	if err != nil {
		refuse(collector.NewError(collector.CodeInvalid, "import_no_file"), pg.T("import_no_file"))
		return
	}
	data, err := readUpload(fh)
	if err != nil {
		refuse(collector.NewError(collector.CodeInvalid, "import_no_file"), pg.T("import_no_file"))
		return
	}
	ctx := c.Request.Context()
	// The workflow of tamtam import: check, annotate, store (not for a dry run, nor when
	// a row has a problem), and one audit event whatever happens.
	o, err := paper.Import(ctx, s.Importer, webAuditor{s}, s.now(), paper.Job{
		Source: bytes.NewReader(data),
		Options: paper.Options{Site: site, Questionnaire: questionnaire, DryRun: dryRun,
			MaxProblems: maxKeptProblems, MaxRows: maxUploadRows},
		Actor: p.TokenID, Role: string(p.Role),
		Annotate: paper.AnnotateProblems,
	})
	if o == nil && (errors.Is(err, paper.ErrStore) || ctx.Err() != nil) {
		// Not the file's fault: the store cannot be asked now.
		s.Logger.Error("import failed", "err", err)
		refuse(collector.NewError(collector.CodeUnavailable, "import_unavailable"), pg.T("import_unavailable"))
		return
	}
	if o == nil {
		refusal, msg := collector.NewError(collector.CodeInvalid, "import_unreadable"), err.Error()
		var ce *collector.Error
		if errors.As(err, &ce) && ce.Code == collector.CodeTooLarge {
			// A file over the importer's limits (a zip bomb, thousands of columns): its
			// message names each part over its limit.
			refusal, msg = ce, ce.Message
		}
		// The importer's messages say what is wrong with the file as a whole (not a
		// workbook, no header row, another questionnaire's template), never a cell.
		if pg.Lang == "fr" {
			refuse(refusal, pg.T("import_unreadable")+" : "+msg)
		} else {
			refuse(refusal, pg.T("import_unreadable")+": "+msg)
		}
		return
	}
	res := s.resultOf(pg, fh.Filename, dryRun, o)
	m.Result = res
	switch {
	case o.Annotated != nil:
		if id := s.annotated.Put(p.TokenID, "annotated-"+baseName(fh.Filename)+".xlsx", o.Annotated); id != "" {
			res.Annotated = "/import/annotated/" + id
		}
	case collector.ErrorCode(o.AnnotateErr) == collector.CodeTooLarge:
		res.AnnotatedNote = pg.T("annotate_too_big")
	case o.AnnotateErr != nil:
		s.Logger.Error("import report failed", "err", o.AnnotateErr)
	}
	switch {
	case errors.Is(err, paper.ErrNoRows):
		res.Message = pg.T("no_rows")
		render(collector.ErrorStatus(c, collector.NewError(collector.CodeInvalid, "no_rows")))
	case errors.Is(err, paper.ErrProblems):
		res.Message = pg.T("check_bad")
		render(collector.ErrorStatus(c, collector.NewError(collector.CodeUnprocessable, "check_bad")))
	case err == nil:
		res.OK = true
		res.Message = pg.T("check_ok")
		if !dryRun {
			res.Message = pg.T("import_done")
		}
		render(http.StatusOK)
	case collector.ErrorCode(err) == collector.CodeUnavailable:
		refuse(collector.NewError(collector.CodeUnavailable, "unavailable"), pg.T("unavailable"))
	default:
		s.fail(c, fmt.Errorf("web: import: %w", err))
	}
}

// resultOf is what the page shows of the outcome of a check or an import: the
// counts, and the first maxListedProblems problems in the page's language.
func (s *Server) resultOf(pg *Page, fileName string, dryRun bool, o *paper.Outcome) *importResult {
	b := o.Batch
	d, _ := s.API.Catalog.Get(b.Questionnaire, b.Version)
	res := &importResult{DryRun: dryRun, FileName: fileName, Rows: b.Rows, RowsProblems: b.RowsWithProblems(),
		ProblemCount: o.Problems, Duplicates: b.Duplicates, WouldStore: b.Valid() - b.Existing, Existing: b.Existing,
		Stored: o.Stored.Stored, Replayed: o.Stored.Replayed}
	if o.Problems > maxListedProblems {
		res.MoreProblems = words.Lang(pg.Lang).T("more_problems", words.Lang(pg.Lang).Number(o.Problems-maxListedProblems))
	}
	for _, pr := range b.Problems[:min(len(b.Problems), maxListedProblems)] {
		ip := importProblem{Row: pr.Row, Item: pr.Item, Message: pr.Code + ": " + pr.Message}
		if it := d.Item(pr.Item); it != nil {
			ip.Label = it.Label.In(pg.Lang)
			if explained(pr.Code) || pr.Code == collector.ErrOutOfRange {
				ip.Message = fieldMessage(collector.FieldError{Item: pr.Item, Code: pr.Code, Message: pr.Message}, it, pg.Lang)
			}
		}
		res.Problems = append(res.Problems, ip)
	}
	return res
}

// webAuditor writes the audit event of an import as the pages write theirs
// ([Server.audit]): a failure is logged, and the page goes on.
type webAuditor struct{ s *Server }

func (a webAuditor) Audit(_ context.Context, e collector.AuditEvent) error {
	a.s.audit(e)
	return nil
}

// annotatedFile sends the annotated workbook of a check to the worker who uploaded the
// file, within a quarter of an hour.
func (s *Server) annotatedFile(c *gin.Context) {
	p, _ := collector.PrincipalOf(c)
	body, name, ok := s.annotated.Get(c.Param("id"), p.TokenID)
	if !ok {
		s.fail(c, collector.NewError(collector.CodeNotFound, "not_found"))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Data(http.StatusOK, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body)
}

// readUpload reads an uploaded file (already in memory: see readForm).
func readUpload(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 || len(data) > maxUpload {
		return nil, errors.New("web: empty or oversized upload")
	}
	return data, nil
}

// baseName keeps the name of an uploaded file without its extension and without any
// character that could upset a file system or a header.
func baseName(name string) string {
	out := make([]rune, 0, len(name))
	for _, r := range name {
		if r == '.' {
			break
		}
		if r < 0x20 || r == '"' || r == '/' || r == '\\' || r == ':' {
			r = '_'
		}
		out = append(out, r)
	}
	if len(out) == 0 || len(out) > 80 {
		return "import"
	}
	return string(out)
}
