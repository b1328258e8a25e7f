package paper

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// demoCSV returns n generated entry questionnaires as a CSV file with the template's
// headers, ids left empty (derived), as intake workers fill it.
func demoCSV(tb testing.TB, n int) []byte {
	tb.Helper()
	catalog, err := collector.BuiltinCatalog()
	if err != nil {
		tb.Fatal(err)
	}
	d, _ := catalog.Latest("entry")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{IDColumn}
	for _, it := range d.Items {
		header = append(header, it.Code)
	}
	w.Write(header)
	gen := collector.NewDemo(2025, 5, testNow)
	row := make([]string, len(header))
	for range n {
		var m struct {
			Questionnaire string         `json:"questionnaire"`
			Answers       map[string]any `json:"answers"`
		}
		json.Unmarshal(gen.Next().Body, &m)
		for i, it := range d.Items {
			switch v := m.Answers[it.Code].(type) {
			case nil:
				row[i+1] = ""
			case string:
				row[i+1] = v
			case float64:
				row[i+1] = fmt.Sprint(int(v))
			case []any:
				parts := make([]string, len(v))
				for j, p := range v {
					parts[j] = p.(string)
				}
				row[i+1] = strings.Join(parts, ";")
				if len(parts) == 0 {
					row[i+1] = noneMark
				}
			}
		}
		if m.Questionnaire == "entry" {
			w.Write(row)
		}
	}
	w.Flush()
	return buf.Bytes()
}

// countStager counts what is staged, and stores nothing.
type countStager struct {
	mu   sync.Mutex
	rows int
}

func (c *countStager) Stage(context.Context) (Staging, error) { return c, nil }
func (c *countStager) Add(_ context.Context, recs []collector.Record) error {
	c.mu.Lock()
	c.rows += len(recs)
	c.mu.Unlock()
	return nil
}
func (c *countStager) Stored(context.Context, func(id, fp string)) error { return nil }
func (c *countStager) Commit(context.Context) error                      { return nil }
func (c *countStager) Discard(context.Context) error                     { return nil }

// BenchmarkCheck measures the CPU of an import on this side of the store: reading the
// CSV, preparing every row (in parallel), checking repeats and handing the records to the
// staging. One op is one row.
func BenchmarkCheck(b *testing.B) {
	im, _ := newImporter(b)
	im.Lookup = nil
	data := demoCSV(b, 20_000)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	rows := 0
	for rows < b.N {
		st := &countStager{}
		im.Stager = st
		batch, err := im.Check(context.Background(), bytes.NewReader(data), Options{Site: "haren"})
		if err != nil {
			b.Fatal(err)
		}
		if len(batch.Problems) > 0 {
			b.Fatalf("problems: %v", batch.Problems[:1])
		}
		rows += batch.Rows
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	// On a shared machine the time is the CPU's: what the rows cost, whoever else runs.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(rows), "cpu-ns/row")
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
