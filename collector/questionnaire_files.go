package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// MaxDefinitionBytes bounds a definition file: files in the questionnaire directory are
// untrusted input, read whole.
const MaxDefinitionBytes = 1 << 20

// maxVersion is the largest questionnaire version: the store keeps it as a UInt16.
const maxVersion = 65535

var definitionID = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Problem is one fault of a definition file: the item it is in ("" for the definition
// itself) and the field of that item or definition ("" when none applies).
type Problem struct {
	Item, Field, Message string
}

// String writes the problem as ITEM: FIELD: message, "-" standing for no item or field.
func (p Problem) String() string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return dash(p.Item) + ": " + dash(p.Field) + ": " + p.Message
}

// DefinitionError is every problem of one definition file.
type DefinitionError struct {
	File     string
	Problems []Problem
}

func (e *DefinitionError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("collector: questionnaire file %s: %s", e.File, strings.Join(parts, "; "))
}

// Source returns the file the definition was loaded from, "" for a built-in one.
func (d *Definition) Source() string { return d.source }

// Fingerprint returns the SHA-256 (hex) of the definition in its served JSON shape: what
// the answers stored under its id and version mean. Two definitions with the same
// fingerprint ask the same questions with the same codes, labels and rules.
func (d *Definition) Fingerprint() string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("collector: marshal definition %s: %v", d.ID, err)) // a Definition always marshals
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sameAs reports whether o, read from a file, is the same definition as d: the same
// questions (their fingerprint) and, unless o declares none (a file in the served shape),
// the same indicators.
func (d *Definition) sameAs(o *Definition) bool {
	if d.Fingerprint() != o.Fingerprint() {
		return false
	}
	if len(o.Families) == 0 && len(o.Indicators) == 0 {
		return true
	}
	a, _ := json.Marshal([]any{d.Families, d.Indicators})
	b, _ := json.Marshal([]any{o.Families, o.Indicators})
	return bytes.Equal(a, b)
}

// CheckFile checks the content of one definition file against the catalog: its lists,
// and the versions already known, which a file may not redefine with another content
// (the same id with a new version is how a questionnaire changes). It returns the
// definition, or every problem found.
func (c *Catalog) CheckFile(name string, data []byte) (*Definition, []Problem) {
	d, probs := parseDefinition(data, c.lists)
	if d == nil {
		return nil, probs
	}
	d.source = name
	if old, ok := c.Get(d.ID, d.Version); ok && !old.sameAs(d) {
		from := "the built-in definition"
		if old.source != "" {
			from = old.source
		}
		return nil, []Problem{{Field: "version", Message: fmt.Sprintf(
			"%s version %d is already defined by %s with another content: give this one a new version", d.ID, d.Version, from)}}
	}
	if err := c.with(d).checkIndicators(); err != nil {
		return nil, []Problem{{Field: "indicators", Message: err.Error()}}
	}
	return d, nil
}

// with returns a copy of the catalog with the definitions ds added (one already there
// with the same content is not added twice).
func (c *Catalog) with(ds ...*Definition) *Catalog {
	next := &Catalog{versions: map[string][]*Definition{}, lists: c.lists}
	for id, vs := range c.versions {
		next.versions[id] = slices.Clone(vs)
	}
	for _, d := range ds {
		if _, ok := next.Get(d.ID, d.Version); ok {
			continue // the same content again: one definition
		}
		next.versions[d.ID] = append(next.versions[d.ID], d)
		slices.SortFunc(next.versions[d.ID], func(a, b *Definition) int { return a.Version - b.Version })
	}
	return next
}

// ReadDefinitionFile reads a definition file, at most MaxDefinitionBytes.
func ReadDefinitionFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDefinitionBytes+1))
	if err != nil {
		return nil, err
	}
	return data, nil // parseDefinition refuses a file over the bound
}

// AddDir adds every *.json definition file of dir to the catalog. A missing dir is an
// error only when mustExist (the operator named it). Every problem of every file is
// reported, and nothing is added unless all files are sound.
func (c *Catalog) AddDir(dir string, mustExist bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !mustExist {
			return nil
		}
		return fmt.Errorf("collector: questionnaire directory: %w", err)
	}
	var (
		errs  []error
		added []*Definition
	)
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		data, err := ReadDefinitionFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("collector: questionnaire file: %w", err))
			continue
		}
		d, probs := c.CheckFile(name, data)
		if len(probs) == 0 {
			for _, o := range added {
				if o.ID == d.ID && o.Version == d.Version && !o.sameAs(d) {
					probs = []Problem{{Field: "version", Message: fmt.Sprintf(
						"%s version %d is already defined by %s with another content: give this one a new version", d.ID, d.Version, o.source)}}
				}
			}
		}
		if len(probs) > 0 {
			errs = append(errs, &DefinitionError{File: name, Problems: probs})
			continue
		}
		added = append(added, d)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The files' indicators are checked with the catalog they join (ids unique across
	// questionnaires, links to known ones): on a copy, kept only when sound.
	next := c.with(added...)
	if err := next.checkIndicators(); err != nil {
		return fmt.Errorf("collector: questionnaire directory %s: indicators: %w", dir, err)
	}
	c.versions = next.versions
	return nil
}

// DefinitionKey names one version of a questionnaire.
type DefinitionKey struct {
	ID      string
	Version int
}

// FingerprintStore keeps the fingerprint of every questionnaire version the store has
// known, so that a definition cannot change under the answers stored with it.
type FingerprintStore interface {
	// QuestionnaireFingerprints returns the latest fingerprint of each version.
	QuestionnaireFingerprints(ctx context.Context) (map[DefinitionKey]string, error)
	// HasSubmissions reports whether any record of that version is stored.
	HasSubmissions(ctx context.Context, id string, version int) (bool, error)
	// SetQuestionnaireFingerprint records the fingerprint of a version.
	SetQuestionnaireFingerprint(ctx context.Context, id string, version int, fingerprint string) error
}

// ChangedDefinitionError is a definition that differs from the one its stored records
// were answered with: the records would read with another meaning.
type ChangedDefinitionError struct {
	ID      string
	Version int
	Source  string // the file, "" for a built-in definition
}

func (e *ChangedDefinitionError) Error() string {
	src := e.Source
	if src == "" {
		src = "built in"
	}
	return fmt.Sprintf("collector: questionnaire %s version %d (%s) differs from the one its stored records were answered with: raise its version instead of changing it",
		e.ID, e.Version, src)
}

// CheckFingerprints compares every loaded definition with the fingerprint the store
// holds for its id and version: a new version is recorded; a changed one replaces the
// old fingerprint while no record of it is stored, and is refused
// (ChangedDefinitionError, every one found) once records are.
func (c *Catalog) CheckFingerprints(ctx context.Context, store FingerprintStore) error {
	known, err := store.QuestionnaireFingerprints(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range c.IDs() {
		for _, d := range c.versions[id] {
			fp := d.Fingerprint()
			old, ok := known[DefinitionKey{d.ID, d.Version}]
			if ok && old == fp {
				continue
			}
			if ok {
				has, err := store.HasSubmissions(ctx, d.ID, d.Version)
				if err != nil {
					return err
				}
				if has {
					errs = append(errs, &ChangedDefinitionError{ID: d.ID, Version: d.Version, Source: d.source})
					continue
				}
			}
			if err := store.SetQuestionnaireFingerprint(ctx, d.ID, d.Version, fp); err != nil {
				return err
			}
		}
	}
	return errors.Join(errs...)
}
