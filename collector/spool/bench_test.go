package spool

import (
	"runtime"
	"testing"
)

// The benchmarks measure durable appends of 1 KiB entries, the size of an anonymised
// record, with nothing draining: what the ingest endpoint pays per submission.

func BenchmarkAppendParallel(b *testing.B) {
	const writers = 32
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((writers + procs - 1) / procs) // RunParallel starts procs*p goroutines
	benchmarkAppend(b, func(appendOne func()) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				appendOne()
			}
		})
	})
}

func BenchmarkAppendSerial(b *testing.B) {
	benchmarkAppend(b, func(appendOne func()) {
		for b.Loop() {
			appendOne()
		}
	})
}

func benchmarkAppend(b *testing.B, run func(appendOne func())) {
	s := openT(b, Options{Dir: b.TempDir(), MaxBytes: 1 << 40})
	entry := make([]byte, 1024)
	ctx := b.Context()
	b.SetBytes(int64(len(entry)))
	syncs := s.syncs.Load()
	b.ResetTimer()
	run(func() {
		if _, err := s.Append(ctx, entry); err != nil {
			b.Fatal(err)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	b.ReportMetric(float64(b.N)/float64(s.syncs.Load()-syncs), "appends/fsync")
}
