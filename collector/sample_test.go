package collector

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSampleRecordKeepsTheRules: the records drawn to find relations between counts are
// ones a respondent could give — an item only where its conditions hold, a multi item's
// codes among those of its subset_of item, nothing but the month after a refusal — and
// every kind of answer occurs: 8 and 9, "none", every nationality group.
func TestSampleRecordKeepsTheRules(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := c.Latest("entry")
	rng := rand.New(rand.NewPCG(3, 4))
	seen := map[string]bool{}
	for range 3000 {
		rec := d.SampleRecord(rng)
		if rec[ConsentItem][0] == "0" && len(rec) != 2 {
			t.Fatalf("a refusal stores %v, want the consent and the month only", rec)
		}
		for _, it := range d.Items {
			vs, ok := rec[it.Code]
			if !ok {
				continue
			}
			for _, w := range it.When {
				if raw := rec[w.Item]; len(raw) == 0 || d.Item(w.Item).Store == StoreAsIs && !slices.Contains(w.In, raw[0]) {
					t.Fatalf("%s answered where its condition on %s does not hold: %v", it.Code, w.Item, rec)
				}
			}
			if it.SubsetOf != "" {
				for _, v := range vs {
					if v != "" && !slices.Contains(rec[it.SubsetOf], v) {
						t.Fatalf("%s has %s, not among %s: %v", it.Code, v, it.SubsetOf, rec[it.SubsetOf])
					}
				}
			}
			for _, v := range vs {
				seen[it.Code+"="+v] = true
			}
		}
	}
	for _, want := range []string{"drug.main=8", "drug.main=9", "drug.before_12m=", "demo.nationality=STATELESS", "demo.nationality=AMERICAS_OCEANIA", "residence.status=insecure"} {
		if !seen[want] {
			t.Errorf("no drawn record has %s", want)
		}
	}
}
