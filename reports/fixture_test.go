package reports

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtureSites are the sites of the fixture: three large, two small (pooled).
var fixtureSites = []string{"haren", "lantin", "antwerpen", "dinant", "namur"}

// fixtureCutOff is the data cut-off of the fixture release.
var fixtureCutOff = time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)

// fixtureSource returns person-level synthetic data for the fixture sites, generated
// from a fixed seed, every person received by the cut-off.
func fixtureSource(t testing.TB, cat *Catalog) *synthData {
	t.Helper()
	return newSynth(cat, synthOptions{Seed: 1, Start: fixtureCutOff.Add(-2000 * time.Hour),
		Sizes: map[string]int{"haren": 320, "lantin": 200, "antwerpen": 150, "dinant": 4, "namur": 7}})
}

// fixtureRelease makes the fixture release with the default policy.
func fixtureRelease(t testing.TB) (*Release, *Catalog) {
	t.Helper()
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Make(context.Background(), fixtureSource(t, cat), cat, nil, MakeOptions{Year: 2025, Policy: testPolicy(t),
		Sites: fixtureSites, CutOff: fixtureCutOff, Funders: [][]string{{"haren", "lantin"}}, Now: fixtureCutOff,
		Questionnaires: []string{"entry v1", "followup v1"}, Rand: fixedRand()})
	if err != nil {
		t.Fatalf("Make(fixture) error: %v", err)
	}
	return r, cat
}

// fixtureFigures is the all-sites view of the fixture release.
func fixtureFigures(t testing.TB) *Figures {
	t.Helper()
	r, cat := fixtureRelease(t)
	f, err := r.View(cat, AllGroup, map[string]Text{"haren": {FR: "Haren", NL: "Haren", EN: "Haren"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fixedRand gives the same release id on every run, so that outputs can be compared
// byte for byte and against golden files.
func fixedRand() io.Reader { return strings.NewReader("fixed") }

// TestFixtureCSV pins what the fixture release publishes: the tidy CSV of every view
// (all sites, each site shown, "other sites", the funder's sites), which holds every
// published count and proportion with its status. The pooling of the small sites, the
// sums and the tables of Make and View are refactored under it; a change to their
// result must be deliberate (-update rewrites testdata/build_fixture.csv.golden).
func TestFixtureCSV(t *testing.T) {
	r, cat := fixtureRelease(t)
	var buf bytes.Buffer
	for _, g := range r.Groups() {
		f, err := r.View(cat, g.Code, nil)
		if err != nil {
			t.Fatalf("View(%s) error: %v", g.Code, err)
		}
		fmt.Fprintf(&buf, "# view %s\n", g.Code)
		if err := WriteCSV(&buf, f); err != nil {
			t.Fatalf("WriteCSV(%s) error: %v", g.Code, err)
		}
	}
	path := filepath.Join("testdata", "build_fixture.csv.golden")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestFixtureCSV ./reports -update to create it)", err)
	}
	got := strings.Split(buf.String(), "\n")
	wantLines := strings.Split(string(want), "\n")
	for i := range max(len(got), len(wantLines)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Fatalf("fixture CSV differs from %s at line %d:\n got: %q\nwant: %q\n(run with -update if the change is intended)", path, i+1, g, w)
		}
	}
}

// declaredFamilies are the families the definitions declare: each has its sheet, its
// section and its chart. The fixture has no data for the distribution tables.
func declaredFamilies(cat *Catalog) []Family {
	var out []Family
	for _, f := range cat.Families {
		if !f.Distribution {
			out = append(out, f)
		}
	}
	return out
}
