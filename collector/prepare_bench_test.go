package collector

import (
	"crypto/sha256"
	"encoding/json"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPrepare measures the CPU of one submission from body to spool entry: strict
// decoding, validation, anonymisation and the record's encoding — what every POST costs
// before it waits for the spool.
func BenchmarkPrepare(b *testing.B) {
	c, err := BuiltinCatalog()
	if err != nil {
		b.Fatal(err)
	}
	sites, _ := LoadSites("")
	secret := sha256.Sum256([]byte("bench"))
	key, _ := NewKey(secret[:])
	api := &API{Catalog: c, Sites: sites, Anonymiser: &Anonymiser{Keys: &Keyring{Current: key}}}
	p := Principal{Role: RoleIntake, Sites: []string{"haren", "lantin", "mons", "jamioulx", "antwerpen", "gent", "brugge", "hasselt", "andenne", "namur", "leuven-hulp", "mechelen", "dinant"}}
	gen := NewDemo(2025, 1, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = gen.Next().Body
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		env, ferrs := DecodeEnvelope(bodies[i%len(bodies)])
		if ferrs != nil {
			b.Fatal(ferrs)
		}
		rec, err := api.Prepare(p, env)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(rec); err != nil {
			b.Fatal(err)
		}
	}
	// The CPU time, garbage collection included, is what a submission costs whoever else
	// runs on the machine; ns/op is not, on a shared one.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
