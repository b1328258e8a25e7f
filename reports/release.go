package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// The files of a release directory.
const (
	WorkbookFile = "figures.xlsx"
	HTMLFile     = "report.html"
	CSVFile      = "figures.csv"
	FiguresDir   = "figures"
	ManifestFile = "manifest.json"
)

// FileHash is the SHA-256 of one file of a release, by its path in the release directory.
type FileHash struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// LedgerEntry records one delivery of a release's view (PRIVACY.md R7): who got which
// files, when, of which release (in Settings), with their hashes.
type LedgerEntry struct {
	At       time.Time
	Actor    string // "cli" or a token id
	Role     string
	Year     int
	Sites    []string
	Lang     string
	K        int
	CutOff   time.Time
	Settings string // the manifest's settings, JSON: release id, group, language
	Files    []FileHash
}

// Ledger keeps the ledger of deliveries: every report written and every download. It
// is implemented by package queries.
type Ledger interface {
	RecordRelease(ctx context.Context, e LedgerEntry) error
}

// Counts are the protected totals a manifest states; nil when suppressed.
type Counts struct {
	Contacts    *int `json:"contacts"`    // entry questionnaires, refusals included
	Interviewed *int `json:"interviewed"` // entry questionnaires with consent
}

// Manifest describes a release directory: settings, counts, data cut-off and the SHA-256
// of every other file. It holds no time but the cut-off, so the same cut-off and settings
// give a byte-identical manifest.
type Manifest struct {
	Tool string `json:"tool"`
	Year int    `json:"year"`
	// Release is the id of the frozen release the files show, and Group its publication
	// group they show.
	Release        string            `json:"release"`
	Group          string            `json:"group"`
	Sites          []string          `json:"sites"`
	AllSites       []string          `json:"all_sites"`
	PooledSites    []string          `json:"pooled_sites"`
	Lang           string            `json:"lang"`
	DataCutOff     time.Time         `json:"data_cut_off"`
	Disclosure     disclosure.Config `json:"disclosure"`
	Questionnaires []string          `json:"questionnaires"`
	Counts         Counts            `json:"counts"`
	Files          []FileHash        `json:"files"`
	Skipped        []string          `json:"skipped,omitempty"`
}

// Settings returns the manifest without its files, as JSON, for the ledger.
func (m *Manifest) Settings() string {
	c := *m
	c.Files, c.Skipped = nil, nil
	b, _ := json.Marshal(c)
	return string(b)
}

// ReleaseOptions configure WriteRelease.
type ReleaseOptions struct {
	Lang   string // fr (the default when empty), nl or en, as words.Parse reads it
	Logger *slog.Logger
}

// manifest returns the manifest of a view in lang, without files.
func (f *Figures) manifest(lang string) *Manifest {
	m := &Manifest{Tool: "tamtam", Year: f.Year, Release: f.Release, Group: f.Group.Code, Sites: f.Sites,
		AllSites: f.AllSites, PooledSites: f.Pooled, Lang: lang, DataCutOff: f.CutOff, Disclosure: f.Config,
		Questionnaires: f.Questionnaires}
	if i19, ok := f.Find(EntrantsIndicator); ok {
		total := i19.Total()
		m.Counts = Counts{Contacts: valuePtr(total.Denominator), Interviewed: valuePtr(total.Numerator)}
	}
	return m
}

// WriteRelease writes every output of f into dir: the workbook, the HTML report, the tidy
// CSV, the figures (SVG and PNG, when a Chromium is found; otherwise the manifest says
// they were skipped) and last the manifest with the hash of every file. A language other
// than fr, nl or en is an error, before anything is written.
func WriteRelease(ctx context.Context, f *Figures, dir string, opts ReleaseOptions) (*Manifest, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := reportLanguage(opts.Lang)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	opts.Lang = string(l)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	m := f.manifest(opts.Lang)
	var buf bytes.Buffer
	if err := WriteWorkbook(&buf, f, WorkbookOptions{Lang: opts.Lang, Questionnaires: f.Questionnaires}); err != nil {
		return nil, fmt.Errorf("reports: workbook: %w", err)
	}
	if err := writeFile(filepath.Join(dir, WorkbookFile), buf.Bytes()); err != nil {
		return nil, err
	}
	buf.Reset()
	if err := WriteHTML(&buf, f, HTMLOptions{Lang: opts.Lang}); err != nil {
		return nil, fmt.Errorf("reports: html: %w", err)
	}
	if err := writeFile(filepath.Join(dir, HTMLFile), buf.Bytes()); err != nil {
		return nil, err
	}
	buf.Reset()
	if err := WriteCSV(&buf, f); err != nil {
		return nil, fmt.Errorf("reports: csv: %w", err)
	}
	if err := writeFile(filepath.Join(dir, CSVFile), buf.Bytes()); err != nil {
		return nil, err
	}
	written := []string{WorkbookFile, HTMLFile, CSVFile}
	// Figures of an earlier run must not linger beside (and be mistaken for) these.
	if err := os.RemoveAll(filepath.Join(dir, FiguresDir)); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	paths, err := RenderFigures(ctx, f, opts.Lang, filepath.Join(dir, FiguresDir))
	switch {
	case errors.Is(err, ErrNoBrowser):
		log.Warn("figures skipped: no Chromium found", "err", err)
		m.Skipped = append(m.Skipped, FiguresDir+"/*.svg and *.png: no Chromium found (apt-get install chromium)")
	case err != nil:
		return nil, fmt.Errorf("reports: figures: %w", err)
	}
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, fmt.Errorf("reports: %w", err)
		}
		written = append(written, rel)
	}
	hashes, err := hashFiles(dir, written)
	if err != nil {
		return nil, err
	}
	m.Files = hashes
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, ManifestFile), append(b, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

func valuePtr(n Number) *int {
	if v, ok := n.Value(); ok {
		return &v
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	return nil
}

// hashFiles returns the SHA-256 of each named file of dir, sorted by name.
func hashFiles(dir string, names []string) ([]FileHash, error) {
	var out []FileHash
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reports: hash outputs: %w", err)
		}
		sum := sha256.Sum256(data)
		out = append(out, FileHash{Name: filepath.ToSlash(name), SHA256: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(out, func(a, b FileHash) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
