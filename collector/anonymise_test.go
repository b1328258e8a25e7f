package collector

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// testSecret is a fixed linkage key for tests: 32 bytes.
var testSecret = []byte("tamtam-test-secret-32-bytes-long")

func testKey(t *testing.T, secret []byte) *Key {
	t.Helper()
	k, err := NewKey(secret)
	if err != nil {
		t.Fatalf("NewKey(%d bytes) error: %v", len(secret), err)
	}
	return k
}

func testAnonymiser(t *testing.T) *Anonymiser {
	t.Helper()
	return &Anonymiser{Keys: &Keyring{Current: testKey(t, testSecret)}}
}

var testReceived = time.Date(2025, 6, 15, 14, 3, 7, 123456789, time.FixedZone("CEST", 2*60*60))

// anonymise validates answers of questionnaire id and anonymises them with the test key.
func anonymise(t *testing.T, id string, answers map[string]any) Record {
	t.Helper()
	s := mustValidate(t, builtinDefinition(t, id), answers)
	r, err := testAnonymiser(t).Anonymise(s, testReceived)
	if err != nil {
		t.Fatalf("Anonymise(%s) error: %v", id, err)
	}
	return r
}

// stored returns the stored values of item in r.
func stored(r Record, item string) []string {
	var out []string
	for _, a := range r.Answers {
		if a.Item == item {
			out = append(out, a.Value)
		}
	}
	return out
}

func TestAgeBand(t *testing.T) {
	tests := []struct {
		age  int
		want string
	}{
		{18, "18-24"}, {24, "18-24"}, {25, "25-34"}, {34, "25-34"}, {35, "35-44"},
		{44, "35-44"}, {45, "45-54"}, {54, "45-54"}, {55, "55+"}, {99, "55+"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.age), func(t *testing.T) {
			if got := AgeBand(tt.age); got != tt.want {
				t.Errorf("AgeBand(%d) = %s, want %s", tt.age, got, tt.want)
			}
			r := anonymise(t, "entry", withAnswers(entryAnswers(), map[string]any{"demo.age": tt.age, "drug.main_age_first": 16}))
			if r.AgeBand != tt.want {
				t.Errorf("Anonymise(age %d).AgeBand = %s, want %s", tt.age, r.AgeBand, tt.want)
			}
			if got := stored(r, "demo.age"); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("Anonymise(age %d) stores demo.age = %v, want [%s]", tt.age, got, tt.want)
			}
			if !slices.Contains(AgeBands, tt.want) {
				t.Errorf("AgeBands = %v, want it to hold %s", AgeBands, tt.want)
			}
		})
	}
}

var nationalityTests = []struct {
	code, want string
}{
	{"MA", GroupMaghreb}, {"DZ", GroupMaghreb}, {"TN", GroupMaghreb}, {"BE", GroupBE},
	{"RO", GroupEU13}, {"PL", GroupEU13}, {"FR", GroupEU14}, {"NL", GroupEU14},
	{"GB", GroupEurNonEU}, {"TR", GroupEurNonEU}, {"AL", GroupEurNonEU}, {"UA", GroupEurNonEU},
	{"CD", GroupSSA}, {"GN", GroupSSA}, {"EG", GroupMENAOther}, {"SY", GroupMENAOther},
	{"CN", GroupAsia}, {"AF", GroupAsia}, {"BR", GroupAmericasOceania},
	{CodeStateless, GroupStateless}, {CodeUnknown, GroupUnknown},
}

func TestNationalityGroup(t *testing.T) {
	for _, tt := range nationalityTests {
		if got, ok := NationalityGroup(tt.code); !ok || got != tt.want {
			t.Errorf("NationalityGroup(%s) = %s, %v, want %s, true", tt.code, got, ok, tt.want)
		}
	}
	for _, code := range []string{"", "XX", "ma", "8", "9", "EU", "UN", "ZZ"} {
		if got, ok := NationalityGroup(code); ok {
			t.Errorf("NationalityGroup(%q) = %s, true, want false", code, got)
		}
	}
}

func TestCountryChoices(t *testing.T) {
	cs := countryChoices()
	if n := len(cs); n < 240 || n > 255 {
		t.Errorf("len(countryChoices()) = %d, want between 240 and 255", n)
	}
	groups := []string{GroupBE, GroupEU14, GroupEU13, GroupEurNonEU, GroupMaghreb, GroupMENAOther,
		GroupSSA, GroupAsia, GroupAmericasOceania, GroupStateless, GroupUnknown}
	seen := map[string]bool{}
	perGroup := map[string]int{}
	for _, c := range cs {
		if seen[c.Code] {
			t.Errorf("countryChoices() lists %s twice", c.Code)
		}
		seen[c.Code] = true
		if !slices.Contains(groups, c.Group) {
			t.Errorf("countryChoices() %s has group %q, want one of %v", c.Code, c.Group, groups)
		}
		perGroup[c.Group]++
		if !c.Label.complete() {
			t.Errorf("countryChoices() %s label = %+v, want fr, nl and en", c.Code, c.Label)
		}
		if g, ok := NationalityGroup(c.Code); !ok || g != c.Group {
			t.Errorf("NationalityGroup(%s) = %s, %v, want %s, true", c.Code, g, ok, c.Group)
		}
	}
	// Exactly the 27 EU members: Belgium, 13 older and 13 newer ones.
	if perGroup[GroupBE] != 1 || perGroup[GroupEU14] != 13 || perGroup[GroupEU13] != 13 {
		t.Errorf("countryChoices() groups BE/EU14/EU13 = %d/%d/%d, want 1/13/13", perGroup[GroupBE], perGroup[GroupEU14], perGroup[GroupEU13])
	}
	if got := perGroup[GroupMaghreb]; got != 5 {
		t.Errorf("countryChoices() has %d MAGHREB countries, want 5", got)
	}
	if c, _ := countryIndex()["MA"]; c.Label.FR != "Maroc" || c.Label.NL != "Marokko" || c.Label.EN != "Morocco" {
		t.Errorf("countryIndex()[MA].Label = %+v, want Maroc/Marokko/Morocco", c.Label)
	}
	// The built-in items use the list, with 8 and 9 added.
	nat := builtinDefinition(t, "entry").Item("demo.nationality")
	if got, want := len(nat.Choices), len(cs)+2; got != want {
		t.Errorf("len(entry demo.nationality choices) = %d, want %d", got, want)
	}
}

func TestAnonymiseNationality(t *testing.T) {
	for _, tt := range nationalityTests {
		t.Run(tt.code, func(t *testing.T) {
			r := anonymise(t, "entry", withAnswers(entryAnswers(), map[string]any{"demo.nationality": tt.code, "demo.birth_country": tt.code}))
			if r.NationalityGroup != tt.want {
				t.Errorf("Anonymise(nationality %s).NationalityGroup = %s, want %s", tt.code, r.NationalityGroup, tt.want)
			}
			for _, item := range []string{"demo.nationality", "demo.birth_country"} {
				if got := stored(r, item); !slices.Equal(got, []string{tt.want}) {
					t.Errorf("Anonymise(%s %s) stores %v, want [%s]", item, tt.code, got, tt.want)
				}
			}
		})
	}
}

func TestAnonymiseResidence(t *testing.T) {
	tests := []struct{ status, want string }{
		{"belgian", "secure"}, {"eu", "secure"}, {"permit", "secure"},
		{"asylum", "insecure"}, {"no_permit", "insecure"}, {"8", "8"}, {"9", "9"},
	}
	for _, tt := range tests {
		r := anonymise(t, "entry", withAnswers(entryAnswers(), map[string]any{"residence.status": tt.status}))
		if got := stored(r, "residence.status"); !slices.Equal(got, []string{tt.want}) {
			t.Errorf("Anonymise(residence %s) stores %v, want [%s]", tt.status, got, tt.want)
		}
	}
}

func TestAnonymiseEntry(t *testing.T) {
	const identifier = "ZQ-98.765"
	answers := withAnswers(entryAnswers(), map[string]any{
		"demo.age": 37, "demo.nationality": "MA", "demo.birth_country": "DZ", "link.identifier": identifier,
	})
	r := anonymise(t, "entry", answers)
	key := testKey(t, testSecret)

	if r.SubmissionID != testSubmissionID || r.Questionnaire != "entry" || r.Version != 1 || r.Site != "haren" {
		t.Errorf("Anonymise() = %+v, want the envelope of the submission", r)
	}
	if r.Year != 2025 || r.Month != "2025-03" {
		t.Errorf("Anonymise() Year, Month = %d, %s, want 2025, 2025-03", r.Year, r.Month)
	}
	if !r.Consent || r.Gender != "M" || r.AgeBand != "35-44" || r.NationalityGroup != GroupMaghreb {
		t.Errorf("Anonymise() Consent, Gender, AgeBand, NationalityGroup = %v, %s, %s, %s, want true, M, 35-44, MAGHREB",
			r.Consent, r.Gender, r.AgeBand, r.NationalityGroup)
	}
	if want := key.LinkID(identifier); r.LinkID != want || len(r.LinkID) != 64 {
		t.Errorf("Anonymise().LinkID = %s, want %s", r.LinkID, want)
	}
	if r.KeyID != key.ID || r.KeyID == "" {
		t.Errorf("Anonymise().KeyID = %q, want %q", r.KeyID, key.ID)
	}
	if len(r.Fingerprint) != 64 {
		t.Errorf("Anonymise().Fingerprint = %q, want 64 hex digits", r.Fingerprint)
	}
	// Received at 12:03:07: stored is the day only (R2).
	if want := time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC); !r.Received.Equal(want) || r.Received.Location() != time.UTC {
		t.Errorf("Anonymise().Received = %v, want the day %v", r.Received, want)
	}

	// Everything that can be stored, as text.
	all := fmt.Sprintf("%+v", r)
	for _, secret := range []string{identifier, NormaliseIdentifier(identifier), "ZQ", "zq"} {
		if strings.Contains(all, secret) {
			t.Errorf("Anonymise() = %s, holds the identifier (%s)", all, secret)
		}
	}
	for _, a := range r.Answers {
		if a.Item == "link.identifier" {
			t.Errorf("Anonymise() stores link.identifier = %q", a.Value)
		}
		switch a.Value {
		case "37", "MA", "DZ", identifier, NormaliseIdentifier(identifier):
			t.Errorf("Anonymise() stores %s = %q, an exact answer", a.Item, a.Value)
		}
	}
	for _, s := range []string{r.SubmissionID, r.Questionnaire, r.Site, r.Month, r.Gender, r.AgeBand, r.NationalityGroup, r.LinkID, r.KeyID, r.Fingerprint} {
		if s == "37" || s == "MA" || s == "DZ" || strings.Contains(s, "ZQ") {
			t.Errorf("Anonymise() field %q holds an exact answer", s)
		}
	}
	if got := stored(r, "demo.birth_country"); !slices.Equal(got, []string{GroupMaghreb}) {
		t.Errorf("Anonymise() stores demo.birth_country = %v, want [MAGHREB]", got)
	}
	if got := stored(r, "residence.status"); !slices.Equal(got, []string{"insecure"}) {
		t.Errorf("Anonymise() stores residence.status = %v, want [insecure]", got)
	}
	// Multi answers: one stored answer per code, sorted; items sorted.
	if got, want := stored(r, "drug.lifetime"), []string{"cannabis", "cocaine", "heroin"}; !slices.Equal(got, want) {
		t.Errorf("Anonymise() stores drug.lifetime = %v, want %v", got, want)
	}
	if !slices.IsSortedFunc(r.Answers, func(a, b StoredAnswer) int { return strings.Compare(a.Item, b.Item) }) {
		t.Errorf("Anonymise().Answers are not sorted by item")
	}
	// Every other answer is stored as given.
	if got := stored(r, "drug.main_age_first"); !slices.Equal(got, []string{"16"}) {
		t.Errorf("Anonymise() stores drug.main_age_first = %v, want [16]", got)
	}
	if got := stored(r, "meta.entry_month"); !slices.Equal(got, []string{"2025-03"}) {
		t.Errorf("Anonymise() stores meta.entry_month = %v, want [2025-03]", got)
	}
	// A Record logs only what identifies it.
	if lv := r.LogValue().String(); strings.Contains(lv, "MAGHREB") || strings.Contains(lv, r.LinkID) {
		t.Errorf("Record.LogValue() = %s, want no answers", lv)
	}
}

func TestAnonymiseWithoutIdentifier(t *testing.T) {
	r := anonymise(t, "entry", entryAnswers())
	if r.LinkID != "" {
		t.Errorf("Anonymise(no identifier).LinkID = %q, want empty", r.LinkID)
	}
	if r.KeyID == "" {
		t.Errorf("Anonymise(no identifier).KeyID is empty, want the key of the fingerprint")
	}
}

func TestAnonymiseEmptyMulti(t *testing.T) {
	r := anonymise(t, "entry", withAnswers(entryAnswers(), map[string]any{"drug.before_30d": []string{}}))
	if got := stored(r, "drug.before_30d"); !slices.Equal(got, []string{""}) {
		t.Errorf("Anonymise(before_30d []) stores %q, want one empty value", got)
	}
}

func TestAnonymiseFollowup(t *testing.T) {
	r := anonymise(t, "followup", withAnswers(followupAnswers(), map[string]any{"link.identifier": " ab 12345"}))
	if r.Questionnaire != "followup" || r.Year != 2025 || r.Month != "2025-04" {
		t.Errorf("Anonymise(followup) Questionnaire, Year, Month = %s, %d, %s, want followup, 2025, 2025-04", r.Questionnaire, r.Year, r.Month)
	}
	entry := anonymise(t, "entry", withAnswers(entryAnswers(), map[string]any{"link.identifier": "AB-12.345"}))
	if r.LinkID == "" || r.LinkID != entry.LinkID {
		t.Errorf("Anonymise(followup).LinkID = %s, want the entry's %s", r.LinkID, entry.LinkID)
	}
	if r.AgeBand != "25-34" || r.NationalityGroup != GroupMaghreb {
		t.Errorf("Anonymise(followup) AgeBand, NationalityGroup = %s, %s, want 25-34, MAGHREB", r.AgeBand, r.NationalityGroup)
	}
}

func TestAnonymiseRefusal(t *testing.T) {
	r := anonymise(t, "entry", refusalAnswers())
	if r.Consent {
		t.Errorf("Anonymise(refusal).Consent = true, want false")
	}
	if r.Year != 2025 || r.Month != "2025-03" || r.Gender != "" || r.AgeBand != "" || r.NationalityGroup != "" || r.LinkID != "" {
		t.Errorf("Anonymise(refusal) = %+v, want only year and month", r)
	}
	want := []StoredAnswer{{"meta.consent", "0"}, {"meta.entry_month", "2025-03"}}
	if !slices.Equal(r.Answers, want) {
		t.Errorf("Anonymise(refusal).Answers = %v, want %v", r.Answers, want)
	}
}

// fingerprintOf decodes body, validates and anonymises it, and returns the fingerprint.
func fingerprintOf(t *testing.T, id string, body []byte) string {
	t.Helper()
	s, errs := Validate(builtinDefinition(t, id), decodeBody(t, body), testNow)
	if errs != nil {
		t.Fatalf("Validate(%s) = %v, want no errors", body, errorPairs(errs))
	}
	r, err := testAnonymiser(t).Anonymise(s, testReceived)
	if err != nil {
		t.Fatalf("Anonymise() error: %v", err)
	}
	return r.Fingerprint
}

func TestFingerprint(t *testing.T) {
	const a = `{"submission_id":"0b8f6c1e-3c2a-4d5e-9f10-1a2b3c4d5e6f","questionnaire":"entry","version":1,"site":"haren",
	"answers":{"meta.consent":"1","meta.entry_month":"2025-03","demo.gender":"M","demo.age":34,"demo.nationality":"MA",
	"drug.lifetime_any":"1","drug.lifetime":["cannabis","cocaine","heroin"],"drug.before_12m":["cannabis","cocaine"],"link.identifier":"AB-12.345"}}`
	const b = `{"site":"haren","answers":{"drug.before_12m":["cocaine","cannabis"],"link.identifier":"AB-12.345","demo.age":34.0,
	"drug.lifetime":["heroin","cannabis","cocaine"],"demo.nationality":"MA","drug.lifetime_any":"1","demo.gender":"M",
	"meta.entry_month":"2025-03","meta.consent":"1"},"version":1,"questionnaire":"entry","submission_id":"0B8F6C1E-3C2A-4D5E-9F10-1A2B3C4D5E6F"}`
	fa, fb := fingerprintOf(t, "entry", []byte(a)), fingerprintOf(t, "entry", []byte(b))
	if fa != fb {
		t.Errorf("Fingerprint(reordered body) = %s, want %s", fb, fa)
	}

	// Any change of what is stored changes the fingerprint.
	changes := []struct{ name, from, to string }{
		{"age band", `"demo.age":34`, `"demo.age":35`},
		{"gender", `"demo.gender":"M"`, `"demo.gender":"F"`},
		{"nationality group", `"demo.nationality":"MA"`, `"demo.nationality":"BE"`},
		{"one more substance", `"drug.lifetime":["cannabis","cocaine","heroin"]`, `"drug.lifetime":["cannabis","cocaine","heroin","crack"]`},
		{"one substance less", `"drug.before_12m":["cannabis","cocaine"]`, `"drug.before_12m":["cannabis"]`},
		{"month", `"meta.entry_month":"2025-03"`, `"meta.entry_month":"2025-02"`},
		{"identifier left out", `,"link.identifier":"AB-12.345"`, ``},
		{"another identifier: another person", `"link.identifier":"AB-12.345"`, `"link.identifier":"AB-12.346"`},
		{"site", `"site":"haren"`, `"site":"mons"`},
		{"optional answer added", `"demo.gender":"M"`, `"demo.gender":"M","demo.legal_status":"remand"`},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			changed := strings.Replace(a, c.from, c.to, 1)
			if changed == a {
				t.Fatalf("test body does not contain %s", c.from)
			}
			if got := fingerprintOf(t, "entry", []byte(changed)); got == fa {
				t.Errorf("Fingerprint(%s changed) = %s, want a different fingerprint", c.name, got)
			}
		})
	}

	// The attacker who holds the store and the linkage key: what anonymisation erases
	// (the exact age, the country within its group, the identifier) leaves the
	// fingerprint as it is, so no guess of them can be tested against it.
	erased := []struct{ name, from, to string }{
		{"exact age within the band", `"demo.age":34`, `"demo.age":33`},
		{"country within the group", `"demo.nationality":"MA"`, `"demo.nationality":"DZ"`},
		{"identifier written differently", `"AB-12.345"`, `" ab 12345"`},
	}
	for _, c := range erased {
		t.Run(c.name, func(t *testing.T) {
			changed := strings.Replace(a, c.from, c.to, 1)
			if changed == a {
				t.Fatalf("test body does not contain %s", c.from)
			}
			if got := fingerprintOf(t, "entry", []byte(changed)); got != fa {
				t.Errorf("Fingerprint(%s changed) = %s, want %s: it must depend on the stored record only", c.name, got, fa)
			}
		})
	}

	t.Run("another key", func(t *testing.T) {
		s := mustValidate(t, builtinDefinition(t, "entry"), withAnswers(entryAnswers(), map[string]any{"link.identifier": "AB-12.345"}))
		other := &Anonymiser{Keys: &Keyring{Current: testKey(t, bytes.Repeat([]byte{7}, KeySize))}}
		r1, _ := testAnonymiser(t).Anonymise(s, testReceived)
		r2, _ := other.Anonymise(s, testReceived)
		if r1.LinkID == r2.LinkID || r1.Fingerprint == r2.Fingerprint || r1.KeyID == r2.KeyID {
			t.Errorf("Anonymise() under two keys: links %s and %s, fingerprints %s and %s; want two of each (the link is stored)",
				r1.LinkID, r2.LinkID, r1.Fingerprint, r2.Fingerprint)
		}
		// Without an identifier nothing depends on the key.
		s = mustValidate(t, builtinDefinition(t, "entry"), entryAnswers())
		r1, _ = testAnonymiser(t).Anonymise(s, testReceived)
		r2, _ = other.Anonymise(s, testReceived)
		if r1.Fingerprint != r2.Fingerprint {
			t.Errorf("Anonymise() without identifier under two keys: fingerprints differ")
		}
	})
}

// TestAnonymiseAcrossRotation: after a rotation a record carries its link id under the
// current key and, for each earlier key still kept, the link id the same identifier had
// under it; that is what lets the store re-key the entry of the same person.
func TestAnonymiseAcrossRotation(t *testing.T) {
	k1 := testKey(t, testSecret)
	k2 := testKey(t, bytes.Repeat([]byte{2}, KeySize))
	s := mustValidate(t, builtinDefinition(t, "followup"), withAnswers(followupAnswers(), map[string]any{"link.identifier": " ab 12345"}))
	a := &Anonymiser{Keys: &Keyring{Current: k1}}
	before, err := a.Anonymise(s, testReceived)
	if err != nil {
		t.Fatal(err)
	}
	if before.KeyID != k1.ID || before.LinkID != k1.LinkID("AB-12.345") || len(before.PreviousLinks) != 0 {
		t.Errorf("Anonymise before rotation = key %s, link %s, previous %v; want key %s, its link, no previous links",
			before.KeyID, before.LinkID, before.PreviousLinks, k1.ID)
	}

	a.Use(&Keyring{Current: k2, Previous: []*Key{k1}})
	after, err := a.Anonymise(s, testReceived)
	if err != nil {
		t.Fatal(err)
	}
	if after.KeyID != k2.ID || after.LinkID != k2.LinkID("AB12345") {
		t.Errorf("Anonymise after rotation = key %s, link %s; want key %s and its link", after.KeyID, after.LinkID, k2.ID)
	}
	want := []KeyedLink{{KeyID: k1.ID, LinkID: before.LinkID}}
	if !slices.Equal(after.PreviousLinks, want) {
		t.Errorf("Anonymise after rotation .PreviousLinks = %v, want %v", after.PreviousLinks, want)
	}
	if after.Fingerprint == before.Fingerprint {
		t.Errorf("Anonymise after rotation: the fingerprint ignores the new link")
	}

	// Without an identifier there is nothing to re-key.
	plain, err := a.Anonymise(mustValidate(t, builtinDefinition(t, "followup"), followupAnswers()), testReceived)
	if err != nil {
		t.Fatal(err)
	}
	if plain.LinkID != "" || len(plain.PreviousLinks) != 0 {
		t.Errorf("Anonymise(no identifier) = link %q, previous %v; want none", plain.LinkID, plain.PreviousLinks)
	}

	// Once the old key is destroyed, the identifier no longer maps to its old link.
	a.Use(&Keyring{Current: k2})
	if later, _ := a.Anonymise(s, testReceived); len(later.PreviousLinks) != 0 {
		t.Errorf("Anonymise after the old key is gone .PreviousLinks = %v, want none", later.PreviousLinks)
	}
}
