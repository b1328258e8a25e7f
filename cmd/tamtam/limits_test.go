package main

import (
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
)

// TestRecordBudgetCountsRecords: a batch of 1,000 records is 1,000 records of the
// token's budget, not one request; the batch over the budget gets 429 with Retry-After
// and stores nothing.
func TestRecordBudgetCountsRecords(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.RecordBudget = 1000 }) // bursts of 2,000
	tok := e.token("intake", "haren")
	gen := collector.NewDemo(2025, 7, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	batch := func() []map[string]any {
		var b []map[string]any
		for len(b) < collector.MaxBatchSize {
			var m map[string]any
			if err := json.Unmarshal(gen.Next().Body, &m); err != nil {
				t.Fatal(err)
			}
			m["site"] = "haren" // the token's site
			b = append(b, m)
		}
		return b
	}
	for i := range 2 {
		r := e.post("/api/v1/submissions:batch", tok, map[string]any{"submissions": batch()})
		if r.status != http.StatusOK {
			t.Fatalf("batch %d = %d %s", i+1, r.status, r.raw)
		}
		for _, x := range r.body["results"].([]any) {
			if code := x.(map[string]any)["code"]; code != float64(201) {
				t.Fatalf("batch %d item = %v, want 201", i+1, x)
			}
		}
	}
	r := e.post("/api/v1/submissions:batch", tok, map[string]any{"submissions": batch()})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("third batch of 1,000 within a minute = %d (Retry-After %q), want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if n := e.sql("SELECT count() FROM submissions"); n != "2000" {
		t.Errorf("%s rows stored, want the 2,000 of the two batches within the budget", n)
	}
}

// TestWebFormsRateLimited: the pages go through the token's rate limit as the API does:
// 20 forms posted at once by one signed-in browser are not all stored, the others get
// 429 with Retry-After, and exactly the accepted ones are in the store.
func TestWebFormsRateLimited(t *testing.T) {
	e := newTestEnv(t, func(c *Config) { c.RateLimit = 2 }) // bursts of 4
	w := newWebClient(t, e)
	w.signIn(e.token("intake", "haren"))
	w.get("/forms/entry")
	csrf := w.csrf()
	var (
		mu       sync.Mutex
		accepted int
		limited  int
		retry    string
		wg       sync.WaitGroup
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			form := entryForm(csrf, uuidN(700+i))
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, w.base+"/forms/entry", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := w.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case http.StatusSeeOther:
				accepted++
			case http.StatusTooManyRequests:
				limited++
				retry = resp.Header.Get("Retry-After")
			default:
				t.Errorf("form = %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if limited == 0 || retry == "" || accepted == 0 || accepted > 8 {
		t.Errorf("20 forms at once: %d stored, %d limited (Retry-After %q); want a few stored, the rest 429 with Retry-After", accepted, limited, retry)
	}
	if n := e.sql("SELECT count() FROM submissions"); n != strconv.Itoa(accepted) {
		t.Errorf("%s rows stored, want the %d accepted forms", n, accepted)
	}
}

// TestUploadSlotsPerToken: an intake worker whose upload is still being read cannot
// start another (429), and does not take a second slot from the others: another
// worker's upload goes through meanwhile.
func TestUploadSlotsPerToken(t *testing.T) {
	e := newTestEnv(t)
	slow, other := newWebClient(t, e), newWebClient(t, e)
	slow.signIn(e.token("intake", "haren"))
	other.signIn(e.token("intake", "haren"))
	slow.get("/import")
	slowCSRF := slow.csrf()
	other.get("/import")
	otherCSRF := other.csrf()

	// The slow upload: its headers and the start of its body, then nothing until the
	// test ends. It goes on a connection of its own: a body that cannot be sent again
	// must not go on an idle connection the server may be closing.
	fresh := &http.Client{Jar: slow.c.Jar, Transport: &http.Transport{DisableKeepAlives: true}}
	startSlow := func() (*io.PipeWriter, chan int) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, slow.base+"/import", pr)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		done := make(chan int, 1)
		go func() {
			resp, err := fresh.Do(req)
			if err != nil {
				done <- -1 // cut off at the end of the test
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		go mw.WriteField("csrf", slowCSRF)
		return pw, done
	}

	// Until the server has taken the slow request in, a second upload goes through (and
	// if the slow one comes in while that one is read, it is the slow one that is
	// refused: it is sent again); from then on the second is refused.
	csv := []byte("not,a,template\n")
	var p webPage
	pw, done := startSlow()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		p = slow.upload("/import", map[string]string{"csrf": slowCSRF, "site": "haren", "action": "check"}, "x.csv", csv)
		if p.status == http.StatusTooManyRequests {
			break
		}
		select {
		case <-done:
			pw.CloseWithError(io.ErrUnexpectedEOF)
			pw, done = startSlow()
		default:
		}
	}
	t.Cleanup(func() { pw.CloseWithError(io.ErrUnexpectedEOF); <-done })
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Errorf("a second upload of the same token = %d (Retry-After %q), want 429 with Retry-After", p.status, p.header.Get("Retry-After"))
	}
	for range 2 { // one after the other: each gets the free slot
		if p := other.upload("/import", map[string]string{"csrf": otherCSRF, "site": "haren", "action": "check"}, "x.csv", csv); p.status == http.StatusServiceUnavailable || p.status == http.StatusTooManyRequests {
			t.Errorf("another worker's upload while the slow one is read = %d, want it checked", p.status)
		}
	}
}
