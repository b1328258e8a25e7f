package audit

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The auditor must see each attack of the issue that made releases what they are, on
// outputs that do not protect against it. These outputs are written by hand.

func knowledge() Knowledge {
	return Knowledge{K: 5, Entrants: "I19",
		Population: map[string]string{"I01": "I01", "I19": "I19",
			"I06.heroin": "main", "I06.cocaine": "main", "I06.crack": "main", "I06.cannabis": "main", "I06.benzo_np": "main", "I06.other": "main"},
		Choices:    [][]string{{"I06.heroin", "I06.cocaine", "I06.crack", "I06.cannabis", "I06.benzo_np", "I06.other"}},
		Categories: map[string][]string{"gender": {"M", "F", "X", "unknown"}},
		Merges:     map[string]map[string][]string{"gender": {"X_unknown": {"X", "unknown"}}},
	}
}

const header = "indicator,breakdown,group,numerator,denominator,percent,ci_low,ci_high,flag\n"

func csvOf(rows ...string) []byte { return []byte(header + strings.Join(rows, "\n") + "\n") }

func findings(t *testing.T, views ...View) []Finding {
	t.Helper()
	found, err := Audit(knowledge(), views)
	if err != nil {
		t.Fatalf("Audit error: %v", err)
	}
	return found
}

func has(found []Finding, cell, what string, value int) bool {
	return slices.ContainsFunc(found, func(f Finding) bool {
		return strings.Contains(f.Cell, cell) && f.What == what && f.Value == value
	})
}

var cut1 = time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)

func view(name, release string, sites []string, csv []byte) View {
	return View{Name: name, Release: release, CutOff: cut1, Sites: sites, AllSites: []string{"dinant", "haren", "lantin", "namur"},
		Pooled: []string{"dinant", "namur"}, CSV: csv}
}

// TestAuditSingleChoice is T10: the choices of the main drug add up to N, so one
// suppressed choice among published ones is given back.
func TestAuditSingleChoice(t *testing.T) {
	all := []string{"dinant", "haren", "lantin", "namur"}
	found := findings(t, view("all", "r1", all, csvOf(
		"I06.heroin,total,,92,432,,,,", "I06.cocaine,total,,162,432,,,,", "I06.crack,total,,46,432,,,,",
		"I06.cannabis,total,,125,432,,,,", "I06.benzo_np,total,,,432,,,,suppressed", "I06.other,total,,5,432,,,,")))
	if !has(found, "yes|I06.benzo_np|dinant+haren+lantin+namur|total", SuppressedExact, 2) {
		t.Errorf("Audit(T10) = %v, want benzo_np exact at 2", found)
	}
	// With a second choice suppressed, nothing is exact.
	found = findings(t, view("all", "r1", all, csvOf(
		"I06.heroin,total,,92,432,,,,", "I06.cocaine,total,,162,432,,,,", "I06.crack,total,,46,432,,,,",
		"I06.cannabis,total,,125,432,,,,", "I06.benzo_np,total,,,432,,,,suppressed", "I06.other,total,,,432,,,,suppressed")))
	if len(found) != 0 {
		t.Errorf("Audit(T10 protected) = %v, want nothing", found)
	}
}

// TestAuditNoCount: a published numerator and denominator give the "no" count (R8).
func TestAuditNoCount(t *testing.T) {
	found := findings(t, view("all", "r1", []string{"dinant", "haren", "lantin", "namur"}, csvOf("I01,total,,40,42,,,,")))
	if !has(found, "no|I01", SmallComputed, 2) {
		t.Errorf("Audit = %v, want the no count 2", found)
	}
}

// TestAuditOverlappingFunders is T12: funder C's total minus the Lantin row funder A
// sees is Dinant's count, a pooled site.
func TestAuditOverlappingFunders(t *testing.T) {
	a := view("funder A", "r1", []string{"haren", "lantin"}, csvOf("I01,total,,60,200,,,,", "I01,site,haren,40,120,,,,", "I01,site,lantin,20,80,,,,"))
	c := view("funder C", "r1", []string{"dinant", "lantin"}, csvOf("I01,total,,23,90,,,,", "I01,site,lantin,20,80,,,,"))
	found := findings(t, a, c)
	if !has(found, "yes|I01|dinant|total", PooledExact, 3) {
		t.Errorf("Audit(T12) = %v, want Dinant's 3 given back", found)
	}
}

// TestAuditTwoReleases is T11: a count published in two releases that differs by 1 to
// k-1 gives the newcomers away.
func TestAuditTwoReleases(t *testing.T) {
	all := []string{"dinant", "haren", "lantin", "namur"}
	r1 := view("first", "r1", all, csvOf("I01,total,,100,300,,,,"))
	r2 := view("second", "r2", all, csvOf("I01,total,,101,302,,,,"))
	r2.CutOff = cut1.Add(24 * time.Hour)
	found := findings(t, r1, r2)
	if !has(found, "yes|I01", SmallComputed, 1) || !has(found, "den|I01", SmallComputed, 2) {
		t.Errorf("Audit(T11) = %v, want the changes 1 and 2", found)
	}
	// The same cut-off day: receipt times are days, so the second release may hold
	// records of that day received after the first; its changes give them away as well.
	r2.CutOff = cut1
	found = findings(t, r1, r2)
	if !has(found, "yes|I01", SmallComputed, 1) || !has(found, "den|I01", SmallComputed, 2) {
		t.Errorf("Audit(two releases, one cut-off day) = %v, want the changes 1 and 2", found)
	}
}

// TestAuditMerges: a merged category and one of its parts give the other part.
func TestAuditMerges(t *testing.T) {
	all := []string{"dinant", "haren", "lantin", "namur"}
	found := findings(t, view("all", "r1", all, csvOf(
		"I01,total,,100,300,,,,", "I01,gender,M,80,250,,,,", "I01,gender,F,,,,,,suppressed", "I01,gender,X_unknown,,,,,,suppressed")))
	if len(found) != 0 {
		t.Errorf("Audit(protected) = %v, want nothing", found)
	}
	found = findings(t, view("all", "r1", all, csvOf(
		"I01,total,,100,300,,,,", "I01,gender,M,80,250,,,,", "I01,gender,F,17,,,,,suppressed", "I01,gender,X_unknown,,,,,,suppressed")))
	if !has(found, "yes|I01|dinant+haren+lantin+namur|gender=X_unknown", SuppressedExact, 3) {
		t.Errorf("Audit = %v, want X_unknown exact at 3", found)
	}
}
