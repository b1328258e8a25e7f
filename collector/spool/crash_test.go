package spool

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a helper that writes to a spool until
// it is killed. The helper is dispatched from init, before the testing package runs,
// so no TestMain or flag parsing gets in the way.
const (
	crashDirEnv   = "TAMTAM_SPOOL_CRASH_DIR"
	crashRoundEnv = "TAMTAM_SPOOL_CRASH_ROUND"
	crashSegment  = 256 << 10 // small, so that rolling and deletion happen under the kill
)

func init() {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		os.Exit(crashHelper(dir, os.Getenv(crashRoundEnv)))
	}
}

// crashPayload is the entry stored for id: the id, then filler whose length and byte
// depend on the id, so that any damage the checksums missed would still show.
func crashPayload(id string) []byte {
	h := crc32.ChecksumIEEE([]byte(id))
	return append([]byte(id+"|"), bytes.Repeat([]byte{'a' + byte(h%26)}, int(h%1500))...)
}

// crashHelper appends from 32 goroutines and drains behind them until it is killed. It
// writes "a SEQ ID" on stdout for every entry of an Append that returned nil, and
// "k SEQ" for every Ack that returned nil, only after the call returned.
func crashHelper(dir, round string) int {
	s, err := Open(Options{Dir: dir, SegmentBytes: crashSegment})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	report := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(line) // unbuffered: in the pipe once written
	}
	ctx := context.Background()
	for g := range 32 {
		go func() {
			for i := 0; ; i++ {
				ids := make([]string, 1+i%3)
				entries := make([][]byte, len(ids))
				for j := range ids {
					ids[j] = fmt.Sprintf("%s-%d-%d-%d", round, g, i, j)
					entries[j] = crashPayload(ids[j])
				}
				seqs, err := s.Append(ctx, entries...)
				if err != nil {
					report("e append: " + err.Error() + "\n")
					return
				}
				var b strings.Builder
				for j, seq := range seqs {
					fmt.Fprintf(&b, "a %d %s\n", seq, ids[j])
				}
				report(b.String())
			}
		}()
	}
	// The drainer acknowledges about 100 entries behind what it read, so a crash
	// leaves both acknowledged and unacknowledged entries, and deleted segments.
	go func() {
		after := uint64(0)
		for {
			batch, err := s.Read(after, 200)
			if err != nil {
				report("e read: " + err.Error() + "\n")
				return
			}
			if len(batch) == 0 {
				<-s.Notify()
				continue
			}
			for _, e := range batch {
				id, _, _ := strings.Cut(string(e.Data), "|")
				if !bytes.Equal(e.Data, crashPayload(id)) {
					report(fmt.Sprintf("e entry %d is damaged\n", e.Seq))
				}
			}
			after = batch[len(batch)-1].Seq
			if after > 100 {
				if err := s.Ack(after - 100); err != nil {
					report("e ack: " + err.Error() + "\n")
					return
				}
				report(fmt.Sprintf("k %d\n", after-100))
			}
		}
	}()
	time.Sleep(time.Minute)
	return 3 // the test should have killed us long ago
}

// TestCrashKill9 kills a busy writer with SIGKILL at random moments and checks that
// every entry it acknowledged is still there, undamaged, and that every Ack held.
func TestCrashKill9(t *testing.T) {
	dir := t.TempDir()
	acknowledged := map[uint64]string{} // sequence number → id, from Appends that returned nil
	var ackedUpTo uint64                // highest Ack that returned nil
	var lastBefore uint64               // highest sequence number on disk before the round
	for round := range 10 {
		lines := runUntilKilled(t, dir, round)
		entries := 0
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case f[0] == "a" && len(f) == 3:
				seq, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					t.Fatalf("helper said %q", l)
				}
				if seq <= lastBefore {
					t.Fatalf("round %d: sequence number %d reused (log ended at %d before)", round, seq, lastBefore)
				}
				acknowledged[seq] = f[2]
				entries++
			case f[0] == "k" && len(f) == 2:
				seq, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					t.Fatalf("helper said %q", l)
				}
				ackedUpTo = max(ackedUpTo, seq)
			default:
				t.Errorf("round %d: helper said %q", round, l)
			}
		}

		s, err := Open(Options{Dir: dir, SegmentBytes: crashSegment})
		if err != nil {
			t.Fatalf("round %d: Open after kill = %v", round, err)
		}
		st := s.Stats()
		if st.Acked < ackedUpTo {
			t.Errorf("round %d: checkpoint at %d, but Ack(%d) had returned nil", round, st.Acked, ackedUpTo)
		}
		seen := map[string]bool{}
		want := st.Acked + 1
		for {
			batch, err := s.Read(want-1, 1000)
			if err != nil {
				t.Fatalf("round %d: Read = %v", round, err)
			}
			if len(batch) == 0 {
				break
			}
			for _, e := range batch {
				if e.Seq != want {
					t.Fatalf("round %d: entry %d follows %d", round, e.Seq, want-1)
				}
				want++
				id, _, _ := strings.Cut(string(e.Data), "|")
				if !bytes.Equal(e.Data, crashPayload(id)) {
					t.Fatalf("round %d: entry %d is damaged: %.40q…", round, e.Seq, e.Data)
				}
				if seen[id] {
					t.Fatalf("round %d: entry %s stored twice", round, id)
				}
				seen[id] = true
				if a, ok := acknowledged[e.Seq]; ok && a != id {
					t.Fatalf("round %d: entry %d is %s, acknowledged as %s", round, e.Seq, id, a)
				}
			}
		}
		if want-1 != st.Last {
			t.Errorf("round %d: read up to %d, Stats().Last = %d", round, want-1, st.Last)
		}
		lost := 0
		for seq, id := range acknowledged {
			switch {
			case seq <= st.Acked:
				delete(acknowledged, seq) // drained: gone for good, rightly
			case !seen[id]:
				lost++
			}
		}
		if lost > 0 {
			t.Errorf("round %d: %d acknowledged entries lost", round, lost)
		}
		t.Logf("round %d: %d entries acknowledged, Ack up to %d; after reopen acked %d, %d entries pending",
			round, entries, ackedUpTo, st.Acked, st.Depth)
		lastBefore = st.Last
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runUntilKilled runs the helper on dir, lets it acknowledge a few hundred entries,
// kills it with SIGKILL after a further random delay and returns the complete lines it
// wrote.
func runUntilKilled(t *testing.T, dir string, round int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	var lines []string
	var count atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a last line without its newline was cut by the kill
			}
			lines = append(lines, strings.TrimSuffix(line, "\n"))
			count.Add(1)
		}
	}()

	deadline := time.Now().Add(20 * time.Second)
	for count.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-done
	cmd.Wait() // "signal: killed"
	if stderr.Len() > 0 {
		t.Errorf("round %d: helper stderr: %s", round, stderr.String())
	}
	if count.Load() < 300 {
		t.Fatalf("round %d: helper acknowledged only %d entries in 20 s", round, count.Load())
	}
	return lines
}
