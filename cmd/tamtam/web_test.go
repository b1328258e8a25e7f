package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tamtam-ngo/tamtam/reports"
)

// These tests use the pages as intake workers and coordinators do: in headless Chromium
// (Debian's chromium, driven by chromedp), with JavaScript and without it. The answers
// they give are then read back from ClickHouse with clickhouse-client.

// browser is one headless Chromium tab with what the page reported: console errors,
// uncaught exceptions and Content-Security-Policy violations.
type browser struct {
	ctx context.Context
	mu  sync.Mutex
	log []string
}

func newBrowser(t *testing.T, js bool) *browser {
	t.Helper()
	// The browser stays off the network except for the test server on the loopback.
	ctx, stop, err := reports.StartBrowser(context.Background(), chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"))
	if err != nil {
		t.Fatalf("StartBrowser: %v (the browser tests need Debian's chromium: apt-get install chromium)", err)
	}
	t.Cleanup(stop)
	b := &browser{ctx: ctx}
	if err := chromedp.Listen(ctx, b.listen); err != nil {
		t.Fatal(err)
	}
	if !js {
		off := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		})
		if err := chromedp.Do(ctx, off); err != nil {
			t.Fatalf("disable JavaScript: %v", err)
		}
	}
	return b
}

func (b *browser) listen(ev any) {
	var line string
	switch ev := ev.(type) {
	case *cdplog.EventEntryAdded:
		// Network entries are the statuses of the pages (a form with errors is a 400 on
		// purpose), which the tests check themselves.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			line = string(ev.Entry.Source) + ": " + ev.Entry.Text
		}
	case *runtime.EventExceptionThrown:
		line = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			line += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			line = "console.error"
		}
	}
	if line != "" {
		b.mu.Lock()
		b.log = append(b.log, line)
		b.mu.Unlock()
	}
}

// do runs steps, failing the test with what the page reported.
func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v; the page reported: %v", what, err, b.problems())
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v; the page reported: %v", what, err, b.problems())
	}
	return v
}

// problems returns what the pages reported so far: console errors, exceptions, CSP
// violations. A page of tamtam reports none.
func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.log...)
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, b, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func (b *browser) value(t *testing.T, sel string) string {
	t.Helper()
	return get(t, b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// hidden reports whether the element has the hidden attribute (set by the form script on
// questions that do not apply).
func (b *browser) hidden(t *testing.T, sel string) bool {
	t.Helper()
	return get(t, b, "hidden of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), "hidden")).Exists
}

func (b *browser) checked(t *testing.T, sel string) bool {
	t.Helper()
	return get(t, b, "checked of "+sel, chromedp.JavascriptAttribute[bool](chromedp.CSS(sel), "checked"))
}

// pick clicks a radio button or checkbox as a person does, and makes sure it took: a
// click that lands while the page is still settling is tried again.
func (b *browser) pick(t *testing.T, sel string) {
	t.Helper()
	for try := 0; ; try++ {
		b.do(t, "click "+sel, click(sel))
		if b.checked(t, sel) {
			return
		}
		if try == 5 {
			t.Fatalf("%s: not checked after %d clicks", sel, try+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventuallyHidden waits up to two seconds for the element to be hidden (or shown), as
// the form script does it on the change event of the click, and reports the final state.
func (b *browser) eventuallyHidden(t *testing.T, sel string, want bool) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := b.hidden(t, sel)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SetValue(chromedp.CSS(sel), v)
}
func waitVisible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// signIn opens path, is sent to the sign-in page, pastes the token and comes back. A
// sign-in refused for too many attempts from the address (the tests' clients share
// 127.0.0.1) is tried again a second later, on the server's test clock.
func (b *browser) signIn(t *testing.T, e *testEnv, path, token string) {
	t.Helper()
	base, clock := e.srv.URL, signInClockOf(e)
	want := strings.SplitN(path, "?", 2)[0]
	for try := 0; ; try++ {
		b.do(t, "sign in",
			chromedp.Navigate(base+path),
			waitVisible("#token"),
			setValue("#token", token),
			click("form.login button[type=submit]"),
		)
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := get(t, b, "page state", chromedp.Evaluate[string](`document.readyState + " " + location.pathname`))
			if got == "complete "+want {
				return
			}
			if got == "complete /login" && try < 5 && get(t, b, "sign-in refused?", chromedp.Evaluate[bool](`!!document.getElementById("error-message")`)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after sign-in the page state is %q, want %q", got, "complete "+want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		clock.wait()
	}
}

func item(code string) string { return fmt.Sprintf(`[data-item="%s"]`, code) }

func choice(code, value string) string {
	return fmt.Sprintf(`input[name="%s"][value="%s"]`, code, value)
}

func control(code string) string { return fmt.Sprintf(`[name="%s"]`, code) }

// TestWebIntakeForm is the intake worker's path, with and without JavaScript: sign in,
// fill the entry form in French, submit it with mistakes, see each problem beside its
// question with the answers kept, correct and save it, go on to the next person in
// Dutch. With JavaScript, questions that do not apply disappear as answers change.
func TestWebIntakeForm(t *testing.T) {
	if testing.Short() {
		t.Skip("long: fills the forms in headless Chromium; make test runs it")
	}
	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("javascript=%v", js), func(t *testing.T) {
			e := newTestEnv(t)
			tok := e.token("intake", "haren")
			b := newBrowser(t, js)
			b.signIn(t, e, "/forms/entry", tok)
			if got := b.text(t, "h1"); got != "Questionnaire d'entrée" {
				t.Fatalf("h1 after sign-in = %q, want the entry form in French", got)
			}
			if got := b.text(t, "p.site strong"); got != "Prison de Haren" {
				t.Errorf("site shown = %q, want Prison de Haren (the token's only site)", got)
			}
			// On a tablet held upright and on a small phone, nothing is wider than the
			// screen, and the answer buttons stay large enough to touch.
			for _, width := range []int64{768, 360} {
				b.do(t, "viewport", chromedp.EmulateViewport(width, 900))
				got := get(t, b, "layout", chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth,
					Math.round(document.querySelector('input[type=radio]').getBoundingClientRect().width),
					Math.round(document.querySelector('button[type=submit]').getBoundingClientRect().height)]`))
				if got[0] > int(width) || got[1] < 24 || got[2] < 44 {
					t.Errorf("at %d px: page %d px wide, radio %d px, button %d px high; want no overflow, radios ≥ 24 px, buttons ≥ 44 px",
						width, got[0], got[1], got[2])
				}
			}
			b.do(t, "viewport", chromedp.EmulateViewport(1200, 900))

			if js {
				// Nothing answered: the questions behind consent do not apply.
				if !b.hidden(t, item("demo.gender")) {
					t.Errorf("demo.gender shown before consent is given")
				}
				b.pick(t, choice("meta.consent", "1"))
				if b.eventuallyHidden(t, item("demo.gender"), false) {
					t.Errorf("demo.gender hidden after consent = yes")
				}
				if !b.hidden(t, item("inject.share_needle_12m")) {
					t.Errorf("inject.share_needle_12m shown before inject.status says injected")
				}
				b.pick(t, choice("inject.status", "3"))
				if b.eventuallyHidden(t, item("inject.share_needle_12m"), false) {
					t.Errorf("inject.share_needle_12m hidden after inject.status = 3")
				}
				b.pick(t, choice("inject.status", "1"))
				if !b.eventuallyHidden(t, item("inject.share_needle_12m"), true) {
					t.Errorf("inject.share_needle_12m still shown after inject.status = 1")
				}
			} else {
				// Without the script every question shows, with when it applies.
				if b.hidden(t, item("inject.share_needle_12m")) {
					t.Errorf("inject.share_needle_12m hidden without JavaScript")
				}
				if got := b.text(t, item("inject.share_needle_12m")+" .only-if"); !strings.HasPrefix(got, "Seulement si") {
					t.Errorf("condition line = %q, want it to start with 'Seulement si'", got)
				}
				b.pick(t, choice("meta.consent", "1"))
				b.pick(t, choice("inject.status", "1"))
				// A question that does not apply, answered anyway: the server says so.
				b.pick(t, choice("inject.share_needle_12m", "0"))
			}
			// Mistakes: no gender, an age out of range.
			b.pick(t, choice("drug.lifetime_any", "1"))
			b.pick(t, choice("drug.lifetime", "cannabis"))
			b.do(t, "fill with mistakes",
				setValue(control("meta.entry_month"), "2025-03"),
				setValue(control("demo.age"), "150"),
				setValue(control("demo.nationality"), "MA"),
				click("form.questionnaire button[type=submit]"),
				waitVisible("#error-summary"),
			)
			if got := b.text(t, item("demo.age")+" .error"); !strings.Contains(got, "entre 18 et 99") {
				t.Errorf("error beside demo.age = %q, want the range 18–99", got)
			}
			if got := b.text(t, item("demo.gender")+" .error"); !strings.Contains(got, "obligatoire") {
				t.Errorf("error beside demo.gender = %q, want 'obligatoire'", got)
			}
			if !js {
				if got := b.text(t, item("inject.share_needle_12m")+" .error"); !strings.Contains(got, "ne s'applique pas") {
					t.Errorf("error beside inject.share_needle_12m = %q, want 'ne s'applique pas'", got)
				}
			}
			// The answers are kept.
			if got := b.value(t, control("demo.age")); got != "150" {
				t.Errorf("demo.age after the errors = %q, want 150 kept", got)
			}
			if got := b.value(t, control("meta.entry_month")); got != "2025-03" {
				t.Errorf("meta.entry_month after the errors = %q, want 2025-03 kept", got)
			}
			if got := b.value(t, control("demo.nationality")); got != "MA" {
				t.Errorf("demo.nationality after the errors = %q, want MA kept", got)
			}
			if !b.checked(t, choice("meta.consent", "1")) || !b.checked(t, choice("drug.lifetime", "cannabis")) {
				t.Errorf("consent or drug.lifetime not kept after the errors")
			}
			if js && b.hidden(t, item("demo.gender")) {
				t.Errorf("demo.gender hidden after the errors, though consent is kept")
			}

			// Correct and save.
			b.pick(t, choice("demo.gender", "F"))
			if !js {
				b.pick(t, "#f-inject-share_needle_12m-none")
			}
			b.do(t, "correct and save",
				setValue(control("demo.age"), "34"),
				click("form.questionnaire button[type=submit]"),
				waitVisible("#next-person"))
			if got := b.text(t, "h1"); got != "Questionnaire enregistré" {
				t.Errorf("confirmation h1 = %q", got)
			}

			// Next person, in Dutch, from the language switch.
			b.do(t, "next person",
				click("#next-person"),
				waitVisible("form.questionnaire"),
				click(`a[hreflang="nl"]`),
				waitVisible(`html[lang="nl"] form.questionnaire`),
			)
			if got := b.text(t, "h1"); got != "Vragenlijst bij aankomst" {
				t.Fatalf("h1 in Dutch = %q", got)
			}
			b.pick(t, choice("meta.consent", "1"))
			b.pick(t, choice("demo.gender", "M"))
			b.pick(t, choice("drug.lifetime_any", "0"))
			b.do(t, "fill in Dutch",
				setValue(control("meta.entry_month"), "2025-04"),
				setValue(control("demo.age"), "58"),
				setValue(control("demo.nationality"), "BE"),
				click("form.questionnaire button[type=submit]"),
				waitVisible("#next-person"),
			)
			if got := b.text(t, "h1"); got != "Vragenlijst opgeslagen" {
				t.Errorf("confirmation in Dutch = %q", got)
			}
			if got := b.text(t, "#next-person"); got != "Volgende persoon" {
				t.Errorf("next person button in Dutch = %q", got)
			}

			// Two questionnaires, anonymised: age bands, nationality groups, no age.
			got := e.sql("SELECT site, month, gender, age_band, nationality_group FROM submissions ORDER BY month FORMAT TSV")
			want := "haren\t2025-03\tF\t25-34\tMAGHREB\nharen\t2025-04\tM\t55+\tBE"
			if got != want {
				t.Errorf("stored rows:\n%s\nwant\n%s", got, want)
			}
			if n := e.sql("SELECT count() FROM submissions WHERE has(answer_value, '34') OR has(answer_value, '58') OR has(answer_value, 'MA')"); n != "0" {
				t.Errorf("%s rows hold an exact age or a country", n)
			}
			if p := b.problems(); len(p) > 0 {
				t.Errorf("the pages reported problems (console, exceptions, CSP):\n%s", strings.Join(p, "\n"))
			}
		})
	}
}
