package queries_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/chtest"
	"github.com/tamtam-ngo/tamtam/reports"
	"github.com/tamtam-ngo/tamtam/reports/disclosure"
)

// TestReleaseStore makes a release of stored records, stores it, and reads it back:
// the same cells, listed once however often it is stored; a release whose cells are
// incomplete (a crash between the cells and the header) is refused, never shown.
func TestReleaseStore(t *testing.T) {
	db := chtest.NewDB(t)
	ctx := t.Context()
	demoData(t, db, 2025, 400)
	cat, err := reports.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := disclosure.NewPolicy(disclosure.DefaultConfig())
	pub := reports.NewPublisher(db, db, cat)
	sites := []string{"haren", "jamioulx", "lantin", "mons", "antwerpen", "gent", "brugge", "hasselt", "andenne",
		"namur", "leuven-hulp", "mechelen", "dinant"}
	opts := reports.MakeOptions{Year: 2025, Policy: pol, Sites: sites, Funders: [][]string{{"haren", "lantin"}},
		Actor: "cli", Role: "operator", Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r, made, err := pub.Make(ctx, opts)
	if err != nil || !made {
		t.Fatalf("Make = %v, %v", made, err)
	}
	// The same cut-off and data: the same release, nothing new.
	again, made, err := pub.Make(ctx, opts)
	if err != nil {
		t.Fatalf("Make again: %v", err)
	}
	if made || again.ID != r.ID {
		t.Errorf("Make again = %s, %v; want %s unchanged", again.ID, made, r.ID)
	}
	if err := db.SaveRelease(ctx, r); err != nil { // stored twice
		t.Fatal(err)
	}
	list, err := db.ListReleases(ctx, 2025)
	if err != nil || len(list) != 1 || list[0].ID != r.ID || list[0].Cells != len(r.Cells()) || list[0].Actor != "cli" {
		t.Fatalf("ListReleases = %+v, %v; want %s once", list, err, r.ID)
	}
	back, err := db.LoadRelease(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Cells(), r.Cells()) || back.Header() != r.Header() || !back.MadeAt.Equal(r.MadeAt) {
		t.Errorf("LoadRelease differs from the release stored")
	}
	if _, err := db.LoadRelease(ctx, "2025-0000000000"); !errors.Is(err, reports.ErrNoRelease) {
		t.Errorf("LoadRelease(unknown) = %v, want ErrNoRelease", err)
	}
	// A release whose header says more cells than are stored is refused.
	if err := db.Exec(ctx, "ALTER TABLE release_cells DELETE WHERE release_id = ? AND cell LIKE '%I19%'", r.ID); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err = db.LoadRelease(ctx, r.ID); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond) // the mutation is asynchronous
	}
	if err == nil {
		t.Errorf("LoadRelease of a release with missing cells succeeded")
	}
}

// TestIndicatorPopulations: indicators the catalog says share a denominator count it
// with the same SQL, so that disclosure control may protect it as one cell.
func TestIndicatorPopulations(t *testing.T) {
	cat, err := reports.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	sql, err := queries.IndicatorPopulations(cat.Declared())
	if err != nil {
		t.Fatal(err)
	}
	byPop := map[string]string{}
	for _, ind := range cat.Indicators {
		if ind.ID == "I21" {
			continue // its own query (linked records)
		}
		cond, ok := sql[ind.ID]
		if !ok {
			t.Errorf("indicator %s has no SQL", ind.ID)
			continue
		}
		if prev, ok := byPop[ind.PopulationID()]; ok && prev != cond {
			t.Errorf("population %s: %s counts another denominator", ind.PopulationID(), ind.ID)
		}
		byPop[ind.PopulationID()] = cond
	}
}
