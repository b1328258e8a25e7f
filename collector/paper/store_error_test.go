package paper

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// failingLookup is a store that cannot be reached.
type failingLookup struct{}

func (failingLookup) Fingerprints(context.Context, []string) (map[string]string, error) {
	return nil, errors.New("connection refused")
}

// TestCheckStoreError checks that a failure of the store is told apart from a problem of
// the file: the import page answers the first with 503, the second with its message.
func TestCheckStoreError(t *testing.T) {
	im, _ := newImporter(t)
	im.Lookup = failingLookup{}
	d, _ := im.Catalog.Latest("entry")
	header := []string{IDColumn}
	for _, it := range d.Items {
		header = append(header, it.Code)
	}
	row := make([]string, len(header))
	for i, h := range header {
		row[i] = map[string]string{IDColumn: "6f1d8a52-3f0b-4c5e-9a77-2d4b8e0c1a94", "meta.consent": "0", "meta.entry_month": "2025-03"}[h]
	}
	file := strings.Join(header, ",") + "\n" + strings.Join(row, ",") + "\n"
	_, err := im.Check(context.Background(), bytes.NewReader([]byte(file)), Options{Site: "haren", CountExisting: true})
	if !errors.Is(err, ErrStore) {
		t.Errorf("Check with the store down = %v, want ErrStore", err)
	}
	_, err = im.Check(context.Background(), bytes.NewReader([]byte("PK\x03\x04 not a workbook")), Options{Site: "haren"})
	if err == nil || errors.Is(err, ErrStore) {
		t.Errorf("Check of a broken workbook = %v, want a file error", err)
	}
}
