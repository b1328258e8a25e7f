package reports

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestBuildFixture(t *testing.T) {
	f := fixtureFigures(t)
	if len(f.Indicator) != len(f.Catalog.Indicators) {
		t.Errorf("Build() has %d indicators, want %d", len(f.Indicator), len(f.Catalog.Indicators))
	}
	if len(f.Pooled) == 0 {
		t.Errorf("Build().Pooled = %v, want dinant pooled", f.Pooled)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, f); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d csv rows; summary %v", len(recs), f.Summary[:3])
	for _, r := range recs[:12] {
		t.Log(r)
	}
}
