package collector

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Demo generates realistic synthetic questionnaires for trying tamtam out and for
// benchmarks. The figures are plausible for people entering Belgian prisons (most are
// men aged 20–45, about four in ten foreign nationals, two in three have used an illicit
// drug), the skip logic of the definitions is respected, some people refuse, some entrants
// carry a linkage identifier and some of those answer a follow-up.
//
// Its output is JSON bodies, exactly what a client would POST, so demo data go through the
// same decoding, validation and anonymisation as real data. The same seed gives the same
// submissions, ids included: running it twice stores nothing twice.
type Demo struct {
	Year int
	Now  time.Time // no month after Now is generated
	rng  *rand.Rand
	seed uint64
}

// NewDemo returns a generator for year, seeded with seed.
func NewDemo(year int, seed uint64, now time.Time) *Demo {
	return &Demo{Year: year, Now: now, rng: rand.New(rand.NewPCG(seed, uint64(year))), seed: seed}
}

// demoSites weighs sites roughly by their number of entrants; dinant is kept small on
// purpose so that reports show small-site pooling.
var demoSites = []weighted[string]{
	{"haren", 26}, {"jamioulx", 12}, {"lantin", 12}, {"mons", 8}, {"antwerpen", 10}, {"gent", 8},
	{"brugge", 6}, {"hasselt", 5}, {"andenne", 4}, {"namur", 3}, {"leuven-hulp", 3}, {"mechelen", 2},
	{"dinant", 0.3},
}

var demoNationalities = []weighted[string]{
	{"BE", 58}, {"MA", 10}, {"DZ", 5}, {"RO", 4}, {"FR", 2.5}, {"NL", 2}, {"TN", 2}, {"CD", 2}, {"AL", 2},
	{"GN", 1.5}, {"IT", 1}, {"PL", 1}, {"BG", 1}, {"TR", 1}, {"SY", 1}, {"AF", 1}, {"CM", 1}, {"BR", 0.5},
	{"ES", 0.5}, {"GE", 0.5}, {"LY", 0.5}, {"SN", 0.5}, {"ER", 0.5}, {CodeStateless, 0.2}, {CodeUnknown, 0.3},
}

type weighted[T any] struct {
	v T
	w float64
}

func pick[T any](r *rand.Rand, ws []weighted[T]) T {
	total := 0.0
	for _, w := range ws {
		total += w.w
	}
	x := r.Float64() * total
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return ws[len(ws)-1].v
}

func (g *Demo) chance(p float64) bool { return g.rng.Float64() < p }

// yn89 answers a yes/no item: yes with probability p, and a few refusals and don't-knows.
func (g *Demo) yn89(p float64) string {
	switch x := g.rng.Float64(); {
	case x < 0.02:
		return "8"
	case x < 0.04:
		return "9"
	case x < 0.04+0.96*p:
		return "1"
	}
	return "0"
}

func (g *Demo) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return uuid.UUID(b).String()
}

func (g *Demo) month() string { return monthOf(g.Year, 1+g.rng.IntN(g.lastMonth())) }

func monthOf(year, month int) string { return fmt.Sprintf("%04d-%02d", year, month) }

// age draws an age: most people are between 20 and 45.
func (g *Demo) age() int {
	age := 18 + int(g.rng.ExpFloat64()*11)
	if age > 80 {
		age = 18 + g.rng.IntN(50)
	}
	return age
}

// DemoSubmission is one generated submission: its JSON body and, for entrants who will be
// followed up, the body of the follow-up.
type DemoSubmission struct {
	Site     string
	Body     []byte
	FollowUp []byte
}

// Next returns the next generated entry questionnaire (and perhaps its follow-up).
func (g *Demo) Next() DemoSubmission {
	site := pick(g.rng, demoSites)
	month := g.month()
	a := map[string]any{"meta.entry_month": month}
	if g.chance(0.12) {
		a["meta.consent"] = "0"
		return DemoSubmission{Site: site, Body: g.body("entry", site, a)}
	}
	a["meta.consent"] = "1"
	nat := pick(g.rng, demoNationalities)
	foreign := nat != "BE"
	group, _ := NationalityGroup(nat)
	eu := group == GroupEU14 || group == GroupEU13
	age := g.age()
	a["demo.age"] = age
	a["demo.gender"] = pick(g.rng, []weighted[string]{{"M", 93}, {"F", 6}, {"X", 0.4}, {"8", 0.6}})
	a["demo.nationality"] = nat
	birth := nat
	if !foreign && g.chance(0.2) {
		birth = pick(g.rng, demoNationalities[1:])
	}
	a["demo.birth_country"] = birth
	a["meta.interview_lang"] = g.interviewLang(site, nat)
	a["meta.already_answered"] = g.yn89(0.02)
	a["demo.legal_status"] = pick(g.rng, []weighted[string]{{"remand", 70}, {"sentenced", 27}, {"internee", 3}})
	prev := pick(g.rng, []weighted[string]{{"0", 45}, {"1", 20}, {"2-4", 25}, {"5+", 10}})
	a["demo.prev_incarcerations"] = prev
	a["demo.housing_before"] = pick(g.rng, []weighted[string]{{"stable", 60}, {"unstable", 33}, {"institution", 7}})
	a["demo.labour_before"] = pick(g.rng, []weighted[string]{{"employed", 30}, {"unemployed", 52}, {"student", 4}, {"inactive", 14}})

	used := g.drugs(a, age)
	heroin := slices.Contains(used, "heroin")
	injStatus := pick(g.rng, []weighted[string]{{"1", 95}, {"2", 3}, {"3", 1}, {"4", 1}})
	if heroin || slices.Contains(used, "cocaine") && g.chance(0.2) {
		injStatus = pick(g.rng, []weighted[string]{{"1", 55}, {"2", 25}, {"3", 10}, {"4", 10}})
	}
	a["inject.status"] = injStatus
	if injStatus == "3" || injStatus == "4" {
		a["inject.share_needle_12m"] = g.yn89(0.3)
	}
	if prev != "0" {
		use := g.yn89(0.4)
		a["prev_prison.drug_use"] = use
		if use == "1" {
			a["prev_prison.first_use"] = g.yn89(0.12)
			a["prev_prison.injected"] = g.yn89(0.1)
		}
	}
	ost := "1"
	if heroin {
		ost = pick(g.rng, []weighted[string]{{"1", 40}, {"2", 30}, {"3", 30}})
	}
	a["ost.status"] = ost
	if ost == "3" {
		a["ost.continued_at_entry"] = g.yn89(0.8)
	}
	a["treat.ever"] = g.yn89(map[bool]float64{true: 0.6, false: 0.12}[heroin])
	for _, it := range []string{"test.hiv_last", "test.hcv_last"} {
		a[it] = pick(g.rng, []weighted[string]{{"never", 42}, {"lt12m", 24}, {"gt12m", 30}, {"9", 4}})
	}
	a["health.self_rated"] = pick(g.rng, []weighted[string]{{"1", 14}, {"2", 36}, {"3", 30}, {"4", 15}, {"5", 5}})
	a["mh.psy_treatment_ever"] = g.yn89(0.25)
	a["support.wants_help"] = g.yn89(0.35)
	langOK := g.yn89(map[bool]float64{true: 0.6, false: 0.98}[foreign])
	a["lang.fr_nl_sufficient"] = langOK
	interp := g.yn89(map[bool]float64{true: 0.8, false: 0.05}[langOK == "0"])
	a["interp.needed"] = interp
	if interp == "1" {
		a["interp.at_intake"] = pick(g.rng, []weighted[string]{{"professional_in_person", 10}, {"professional_remote", 15}, {"staff_or_codetainee", 45}, {"none", 30}})
	}
	residence := "belgian"
	switch {
	case eu:
		residence = "eu"
	case foreign:
		residence = pick(g.rng, []weighted[string]{{"permit", 40}, {"asylum", 10}, {"no_permit", 50}})
	}
	a["residence.status"] = residence
	insurance := pick(g.rng, []weighted[string]{{"mutuelle", 85}, {"amu_cpas", 5}, {"none", 10}})
	if residence == "no_permit" || residence == "asylum" {
		insurance = pick(g.rng, []weighted[string]{{"amu_cpas", 30}, {"foreign_card", 10}, {"none", 60}})
	}
	a["insurance.before"] = insurance
	a["gp.before"] = g.yn89(map[bool]float64{true: 0.7, false: 0.2}[insurance == "mutuelle"])
	a["release.stay_in_be"] = g.yn89(map[bool]float64{true: 0.5, false: 0.95}[residence == "no_permit"])

	out := DemoSubmission{Site: site}
	if g.chance(0.3) {
		id := fmt.Sprintf("DEMO-%06d", g.rng.IntN(1_000_000))
		a["link.identifier"] = id
		if g.chance(0.4) {
			out.FollowUp = g.followUp(site, month, id, a, len(used) > 0)
		}
	}
	out.Body = g.body("entry", site, a)
	return out
}

// drugs fills the drug items and returns the substances used in the 12 months before.
func (g *Demo) drugs(a map[string]any, age int) []string {
	ever := g.yn89(0.66)
	a["drug.lifetime_any"] = ever
	if ever != "1" {
		return nil
	}
	prevalence := []weighted[string]{{"cannabis", 0.9}, {"cocaine", 0.5}, {"mdma", 0.2}, {"heroin", 0.2}, {"crack", 0.15},
		{"benzo_np", 0.15}, {"amphet", 0.12}, {"synth_cannabinoids", 0.08}, {"ketamine", 0.06}, {"lsd", 0.05},
		{"methadone_np", 0.05}, {"ghb", 0.03}, {"meth", 0.02}, {"other", 0.02}}
	var life []string
	for _, s := range prevalence {
		if g.chance(s.w) {
			life = append(life, s.v)
		}
	}
	if len(life) == 0 {
		life = []string{"cannabis"}
	}
	y12, d30 := []string{}, []string{} // "none" is an empty array, not null
	for _, s := range life {
		if g.chance(0.75) {
			y12 = append(y12, s)
			if g.chance(0.7) {
				d30 = append(d30, s)
			}
		}
	}
	a["drug.lifetime"], a["drug.before_12m"], a["drug.before_30d"] = life, y12, d30
	main := life[0]
	for _, s := range []string{"heroin", "crack", "cocaine"} {
		if slices.Contains(life, s) {
			main = s
			break
		}
	}
	a["drug.main"] = main
	route := map[string]string{"heroin": "2", "crack": "2", "cocaine": "4", "cannabis": "2"}[main]
	if route == "" {
		route = "3"
	}
	if main == "heroin" && g.chance(0.25) {
		route = "1"
	}
	a["drug.main_route"] = route
	freq := "5"
	if slices.Contains(d30, main) {
		freq = pick(g.rng, []weighted[string]{{"1", 45}, {"2", 20}, {"3", 20}, {"4", 15}})
	}
	a["drug.main_freq30"] = freq
	a["drug.main_age_first"] = min(age, 12+g.rng.IntN(14))
	a["overdose.before_12m"] = g.yn89(0.08)
	return y12
}

func (g *Demo) interviewLang(site, nat string) string {
	switch nat {
	case "MA", "DZ", "TN", "LY", "SY":
		if g.chance(0.3) {
			return "ar"
		}
	case "RO":
		if g.chance(0.4) {
			return "ro"
		}
	case "ES":
		return "es"
	}
	for _, s := range []string{"antwerpen", "gent", "brugge", "hasselt", "leuven-hulp", "mechelen"} {
		if s == site {
			return "nl"
		}
	}
	return "fr"
}

// followUp generates the follow-up of an entrant about a month after entry.
func (g *Demo) followUp(site, entryMonth, identifier string, entry map[string]any, usedBefore bool) []byte {
	t, _ := time.Parse("2006-01", entryMonth)
	t = t.AddDate(0, 1+g.rng.IntN(2), 0)
	if t.After(g.Now) || t.Year() != g.Year {
		t, _ = time.Parse("2006-01", entryMonth)
	}
	a := map[string]any{"meta.followup_month": t.Format("2006-01")}
	if g.chance(0.1) {
		a["meta.consent"] = "0"
		return g.body("followup", site, a)
	}
	a["meta.consent"] = "1"
	a["meta.time_since_entry"] = pick(g.rng, []weighted[string]{{"lt1m", 20}, {"1-3m", 60}, {"3-6m", 20}})
	a["link.identifier"] = identifier
	for _, it := range []string{"demo.gender", "demo.age", "demo.nationality"} {
		a[it] = entry[it]
	}
	use := g.yn89(map[bool]float64{true: 0.45, false: 0.08}[usedBefore])
	a["drug.in_prison_any"] = use
	if use == "1" {
		a["drug.in_prison"] = []string{pick(g.rng, []weighted[string]{{"cannabis", 70}, {"heroin", 10}, {"benzo_np", 10}, {"cocaine", 5}, {"synth_cannabinoids", 5}})}
		a["drug.first_use_in_prison"] = g.yn89(0.08)
		inj := g.yn89(0.05)
		a["inject.in_prison"] = inj
		if inj == "1" {
			a["inject.share_in_prison"] = g.yn89(0.4)
		}
	}
	a["ost.in_prison"] = pick(g.rng, []weighted[string]{{"continued", 12}, {"started", 4}, {"stopped", 3}, {"never", 81}})
	a["care.seen_doctor"] = g.yn89(0.8)
	a["care.interpreter_provided"] = pick(g.rng, []weighted[string]{{"yes", 8}, {"no", 12}, {"not_needed", 80}})
	a["care.release_plan"] = g.yn89(0.25)
	return g.body("followup", site, a)
}

func (g *Demo) body(questionnaire, site string, answers map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"submission_id": g.uuid(), "questionnaire": questionnaire, "version": 1,
		"site": site, "answers": answers})
	if err != nil {
		panic(err) // maps of strings, numbers and string slices always marshal
	}
	return b
}
