package collector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamtam-ngo/tamtam/collector/spool"
)

// Metrics are the ingest pipeline's Prometheus metrics, registered on an injected
// registry (no globals), so tests and several servers in one process do not collide.
// A nil *Metrics records nothing.
type Metrics struct {
	reg         prometheus.Registerer
	submissions *prometheus.CounterVec
	drainRows   prometheus.Histogram
	batchRows   prometheus.Histogram
	insertTime  prometheus.Histogram
	storeErrors *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		drainRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tamtam_drain_batch_rows",
			Help:    "Records per batch inserted from the spool into the store.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tamtam_submissions_total",
			Help: "Submissions answered, by outcome: stored, replayed, conflict, or the reason of a refusal (invalid, forbidden, unauthorized, unavailable, too_large, …).",
		}, []string{"outcome"}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tamtam_ingest_batch_rows",
			Help:    "Records per group-commit batch sent to the store.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		insertTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tamtam_store_insert_seconds",
			Help:    "Time to look up and write one batch (to the store, or from the spool to the store).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tamtam_store_errors_total",
			Help: "Store (ClickHouse) operations that failed, by operation.",
		}, []string{"op"}),
	}
	reg.MustRegister(m.submissions, m.batchRows, m.drainRows, m.insertTime, m.storeErrors)
	return m
}

// WatchSpool exports the spool's depth, size and the age of its oldest record.
func (m *Metrics) WatchSpool(s *spool.Spool, now func() time.Time) {
	if m == nil || s == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tamtam_spool_depth", Help: "Records in the spool not yet in the store."},
			func() float64 { return float64(s.Stats().Depth) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tamtam_spool_bytes", Help: "Bytes of the spool not yet in the store."},
			func() float64 { return float64(s.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tamtam_spool_oldest_seconds", Help: "Age of the oldest record in the spool (0 when empty)."},
			func() float64 {
				st := s.Stats()
				if st.Depth == 0 || st.OldestAppend.IsZero() {
					return 0
				}
				return now().Sub(st.OldestAppend).Seconds()
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tamtam_spool_full", Help: "1 while the spool refuses submissions."},
			func() float64 {
				if s.Stats().Full {
					return 1
				}
				return 0
			}),
	)
}

func (m *Metrics) drained(rows int, seconds float64) {
	if m != nil && rows > 0 {
		m.drainRows.Observe(float64(rows))
		m.insertTime.Observe(seconds)
	}
}

// Count counts one submission answered with outcome o, wherever it came from (the web
// form counts its submissions as the API does). A nil Metrics counts nothing.
func (m *Metrics) Count(o Outcome) { m.outcome(outcomeName(o), 1) }

func (m *Metrics) outcome(o string, n int) {
	if m != nil && n > 0 {
		m.submissions.WithLabelValues(o).Add(float64(n))
	}
}

func (m *Metrics) batch(rows int, seconds float64) {
	if m != nil {
		m.batchRows.Observe(float64(rows))
		m.insertTime.Observe(seconds)
	}
}

func (m *Metrics) storeError(op string) {
	if m != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// outcomeName is the metric label of an outcome.
func outcomeName(o Outcome) string {
	switch o {
	case Stored:
		return "stored"
	case Replayed:
		return "replayed"
	}
	return "conflict"
}
