package collector

import (
	"encoding/json"
	"testing"
)

func TestBuiltinCatalog(t *testing.T) {
	c, err := BuiltinCatalog()
	if err != nil {
		t.Fatalf("BuiltinCatalog() error: %v", err)
	}
	for _, id := range []string{"entry", "followup"} {
		d, ok := c.Latest(id)
		if !ok {
			t.Fatalf("Latest(%q) missing", id)
		}
		if _, err := json.Marshal(d); err != nil {
			t.Errorf("json.Marshal(%s) error: %v", id, err)
		}
		t.Logf("%s v%d: %d items, period %s", id, d.Version, len(d.Items), d.PeriodItem())
	}
}
